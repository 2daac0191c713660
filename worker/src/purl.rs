//! Package URLs (purl) for inventory entries.

use packageurl::PackageUrl;

/// Builds a purl string. `namespace` is the purl namespace (Maven group, npm scope without `@`
/// is *not* stripped: pass `@scope`, distro name for OS packages); `qualifiers` are added in the
/// order given.
pub fn purl(ty: &str, namespace: Option<&str>, name: &str, version: &str, qualifiers: &[(&str, &str)]) -> String {
    match PackageUrl::new(ty, name) {
        Ok(mut p) => {
            if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
                p.with_namespace(ns);
            }
            if !version.is_empty() {
                p.with_version(version);
            }
            for (k, v) in qualifiers {
                if !v.is_empty() {
                    let _ = p.add_qualifier(*k, *v);
                }
            }
            p.to_string()
        }
        // Only an empty name or an invalid type fails; neither comes from a real package.
        Err(_) => format!("pkg:{ty}/{name}@{version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_encode_namespace_version_and_qualifiers() {
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libssl3",
                "3.0.11-1~deb12u2",
                &[("arch", "amd64"), ("distro", "debian-12")]
            ),
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            purl("npm", Some("@babel"), "core", "7.0.0", &[]),
            "pkg:npm/%40babel/core@7.0.0"
        );
        assert_eq!(
            purl("pypi", None, "requests", "2.31.0", &[]),
            "pkg:pypi/requests@2.31.0"
        );
    }
}
