//! Images are read layer by layer: whiteouts and opaque directories hide lower layers, every
//! package is attributed to the layer that introduced its current version, and every container
//! format (OCI layout, `docker save`) and compression (gzip, zstd, none) gives the same answer.

use std::path::Path;

use argus_proto::Inventory;
use argus_tests::image::{compress, dir, exe, file, hardlink, opaque, symlink, tar, whiteout, Codec, Image};
use argus_tests::sha256;
use argus_worker::artifact::NoProgress;
use argus_worker::{scan_target, Limits, ScanOptions};

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nID=debian\n";

fn stanza(name: &str, version: &str, source: Option<&str>) -> String {
    let mut s = format!("Package: {name}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n");
    if let Some(src) = source {
        s.push_str(&format!("Source: {src}\n"));
    }
    s.push_str(&format!(
        "Version: {version}\nDescription: test package {name}\n long description line\n\n"
    ));
    s
}

fn metadata(name: &str, version: &str) -> String {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n\nbody text\n")
}

/// Three layers: a base with two dpkg packages and a Python package, an upgrade that changes
/// one package, adds one and deletes the Python package by whiteout, and a top layer that
/// replaces /app wholesale with an opaque directory.
fn three_layer_image(codecs: [Codec; 3]) -> Image {
    let base = tar(&[
        dir("etc/"),
        file("usr/lib/os-release", OS_RELEASE),
        symlink("etc/os-release", "../usr/lib/os-release"),
        file(
            "var/lib/dpkg/status",
            stanza("libc6", "2.36-9+deb12u4", Some("glibc")) + &stanza("zlib1g", "1:1.2.13.dfsg-1", Some("zlib")),
        ),
        file(
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
            metadata("six", "1.16.0"),
        ),
        file("app/requirements.txt", "flask==2.0.0\n"),
        exe("usr/bin/not-go", [0x7f, b'E', b'L', b'F', 2, 1, 1, 0].repeat(100)),
    ]);
    let upgrade = tar(&[
        file(
            "var/lib/dpkg/status",
            stanza("libc6", "2.36-9+deb12u4", Some("glibc"))
                + &stanza("zlib1g", "1:1.2.13.dfsg-1+deb12u1", Some("zlib"))
                + &stanza("openssl", "3.0.11-1~deb12u2", None),
        ),
        whiteout("usr/lib/python3/dist-packages/six-1.16.0.dist-info"),
    ]);
    let top = tar(&[
        opaque("app"),
        file("app/requirements.txt", "Django==4.2.1\n"),
        file("app/Pipfile.lock.bak", "not wanted"),
    ]);
    Image::new(vec![(base, codecs[0]), (upgrade, codecs[1]), (top, codecs[2])])
}

fn scan(path: &Path) -> Inventory {
    scan_target(path.to_str().unwrap(), &ScanOptions::default(), &NoProgress).expect("scan")
}

fn find<'a>(inv: &'a Inventory, name: &str) -> Option<&'a argus_proto::Package> {
    inv.packages.iter().find(|p| p.name == name)
}

#[test]
fn t01_whiteouts_hide_lower_layers_and_packages_name_their_layer() {
    let img = three_layer_image([Codec::Gzip, Codec::Zstd, Codec::None]);
    let digests: Vec<String> = img.blobs().into_iter().map(|(_, d, _)| d).collect();
    let tmp = tempfile::tempdir().unwrap();
    let manifest_digest = img.write_oci_layout(tmp.path(), "1");
    let inv = scan(tmp.path());

    assert_eq!(inv.artifact_digest.as_deref(), Some(manifest_digest.as_str()));
    assert_eq!(inv.platform.as_deref(), Some("linux/amd64"));
    let os = inv.os.as_ref().expect("os detected through the os-release symlink");
    assert_eq!(os.ecosystem.as_ref().map(|e| e.as_str()), Some("Debian:12"));

    let libc = find(&inv, "libc6").expect("libc6");
    assert_eq!(
        libc.layer_digest.as_deref(),
        Some(digests[0].as_str()),
        "unchanged since the base layer"
    );
    assert_eq!(libc.ecosystem.as_str(), "Debian:12");
    assert_eq!(libc.source_name.as_deref(), Some("glibc"));
    let zlib = find(&inv, "zlib1g").expect("zlib1g");
    assert_eq!(zlib.version, "1:1.2.13.dfsg-1+deb12u1");
    assert_eq!(
        zlib.layer_digest.as_deref(),
        Some(digests[1].as_str()),
        "upgraded in layer 2"
    );
    let openssl = find(&inv, "openssl").expect("openssl");
    assert_eq!(openssl.layer_digest.as_deref(), Some(digests[1].as_str()));
    assert_eq!(openssl.file_path, "/var/lib/dpkg/status");

    assert!(find(&inv, "six").is_none(), "whited-out dist-info must not be reported");
    assert!(
        find(&inv, "flask").is_none(),
        "opaque /app hides the base layer's requirements"
    );
    let django = find(&inv, "django").expect("django from the top layer");
    assert_eq!(django.layer_digest.as_deref(), Some(digests[2].as_str()));
    assert_eq!(inv.packages.len(), 4, "{:#?}", inv.packages);
}

#[test]
fn t02_docker_archive_and_every_compression_give_the_same_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = {
        let img = three_layer_image([Codec::Gzip, Codec::Gzip, Codec::Gzip]);
        let d = tmp.path().join("gz");
        img.write_oci_layout(&d, "1");
        scan(&d)
    };
    let key = |inv: &Inventory| -> Vec<(String, String, String)> {
        inv.packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.file_path.clone()))
            .collect()
    };
    for codecs in [
        [Codec::Zstd; 3],
        [Codec::None; 3],
        [Codec::None, Codec::Zstd, Codec::Gzip],
    ] {
        let img = three_layer_image(codecs);
        let d = tmp.path().join(format!("{codecs:?}"));
        img.write_oci_layout(&d, "1");
        assert_eq!(key(&scan(&d)), key(&reference), "{codecs:?}");
    }
    let img = three_layer_image([Codec::None; 3]);
    let archive = tmp.path().join("image.tar");
    img.write_docker_archive(&archive);
    let inv = scan(&archive);
    assert_eq!(key(&inv), key(&reference));
    // docker save stores uncompressed layers; their digests are the config's diff_ids.
    let zlib = find(&inv, "zlib1g").unwrap();
    assert_eq!(zlib.layer_digest.as_deref(), Some(sha256(&img.layers[1].0).as_str()));
}

#[test]
fn t03_hostile_paths_are_refused_and_nothing_is_written_outside() {
    let outside = tempfile::tempdir().unwrap();
    let before: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    let layer = tar(&[
        file("../../../../etc/evil", "x"),
        file("etc/../../escape", "x"),
        file("/var/lib/dpkg/status", stanza("bash", "5.2.15-2+b2", None)),
        file("etc/os-release", OS_RELEASE),
        symlink("app/requirements.txt", "../../../../../../etc/shadow"),
        hardlink("app/package-lock.json", "../../../x"),
        whiteout("../../../etc"),
    ]);
    let img = Image::new(vec![(layer, Codec::Gzip)]);
    let tmp = tempfile::tempdir().unwrap();
    img.write_oci_layout(tmp.path(), "1");
    let inv = scan(tmp.path());
    assert_eq!(inv.packages.len(), 1, "{:#?}", inv.packages);
    assert_eq!(inv.packages[0].name, "bash");
    let warnings = inv.warnings.join("\n");
    for needle in [
        "../../../../etc/evil",
        "etc/../../escape",
        "/app/requirements.txt",
        "app/package-lock.json",
    ] {
        assert!(warnings.contains(needle), "no warning names {needle}: {warnings}");
    }
    let after: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert_eq!(before.len(), after.len());
}

#[test]
fn t04_decompression_bombs_truncation_and_digest_mismatch_fail_with_the_layer_named() {
    let tmp = tempfile::tempdir().unwrap();
    // 64 MiB of zeros compresses to ~64 KiB.
    let bomb = tar(&[file("zeros", vec![0u8; 64 << 20])]);
    let img = Image::new(vec![(bomb, Codec::Gzip)]);
    let d = tmp.path().join("bomb");
    img.write_oci_layout(&d, "1");
    let opts = ScanOptions {
        limits: Limits {
            max_uncompressed_bytes: 8 << 20,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let err = scan_target(d.to_str().unwrap(), &opts, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("limit"), "{err}");

    let img = three_layer_image([Codec::Gzip; 3]);
    let d = tmp.path().join("trunc");
    img.write_oci_layout(&d, "1");
    let victim = img.blobs()[1].1.clone();
    let path = d.join("blobs/sha256").join(&victim[7..]);
    let data = std::fs::read(&path).unwrap();
    std::fs::write(&path, &data[..data.len() / 2]).unwrap();
    let err = scan_target(d.to_str().unwrap(), &ScanOptions::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&victim), "error must name the layer: {err}");

    let d = tmp.path().join("tampered");
    img.write_oci_layout(&d, "1");
    let path = d.join("blobs/sha256").join(&victim[7..]);
    let other = compress(
        &tar(&[file("var/lib/dpkg/status", stanza("evil", "1", None))]),
        Codec::Gzip,
    );
    std::fs::write(&path, other).unwrap();
    let err = scan_target(d.to_str().unwrap(), &ScanOptions::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected") && err.contains(&victim), "{err}");
}

#[test]
fn t05_layer_and_entry_limits_are_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let img = three_layer_image([Codec::Gzip; 3]);
    img.write_oci_layout(tmp.path(), "1");
    let opts = ScanOptions {
        limits: Limits {
            max_layers: 2,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let err = scan_target(tmp.path().to_str().unwrap(), &opts, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("layers"), "{err}");
    let opts = ScanOptions {
        limits: Limits {
            max_entries: 5,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let err = scan_target(tmp.path().to_str().unwrap(), &opts, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("entries"), "{err}");
    // A wanted file above the file limit is skipped with a warning; the rest is still read.
    let opts = ScanOptions {
        limits: Limits {
            max_file_bytes: 40,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let inv = scan_target(tmp.path().to_str().unwrap(), &opts, &NoProgress).unwrap();
    assert!(
        inv.warnings
            .iter()
            .any(|w| w.contains("/var/lib/dpkg/status") && w.contains("limit")),
        "{:?}",
        inv.warnings
    );
    assert!(find(&inv, "django").is_some());
}
