//! Zip archives (Lambda packages, nested jars), Go binaries found inside images and zips,
//! multi-platform image indexes, and directory trees with symlinks.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use argus_proto::Inventory;
use argus_tests::image::{exe, file, tar, write_multi_platform_layout, Codec, Image};
use argus_tests::{run_ok, sha256, write_file};
use argus_worker::artifact::NoProgress;
use argus_worker::{scan_target, ScanOptions};
use zip::write::SimpleFileOptions;

fn scan(path: &Path, opts: &ScanOptions) -> Inventory {
    scan_target(path.to_str().unwrap(), opts, &NoProgress).expect("scan")
}

fn zip_bytes(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(
            *name,
            SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(0o755),
        )
        .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn has(inv: &Inventory, eco: &str, name: &str, version: &str) -> bool {
    inv.packages
        .iter()
        .any(|p| p.ecosystem.as_str() == eco && p.name == name && p.version == version)
}

#[test]
fn t01_lambda_zip_with_python_node_and_nested_jars_is_inventoried_and_bombs_skipped() {
    let pom = "groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n";
    let inner = zip_bytes(&[(
        "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
        pom.into(),
    )]);
    let war = zip_bytes(&[
        ("WEB-INF/lib/log4j-core-2.14.1.jar", inner),
        ("WEB-INF/web.xml", b"<web-app/>".to_vec()),
    ]);
    let package = zip_bytes(&[
        (
            "python/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n\n".to_vec(),
        ),
        ("requirements.txt", b"boto3==1.34.0\n".to_vec()),
        (
            "node_modules/lodash/package.json",
            br#"{"name":"lodash","version":"4.17.21"}"#.to_vec(),
        ),
        ("lib/app.war", war),
        ("../../evil/requirements.txt", b"evil==1.0\n".to_vec()),
        ("big/requirements.txt", vec![b'\n'; 64 << 20]),
        ("handler.py", b"def handler(event, context):\n    return 1\n".to_vec()),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let path = write_file(tmp.path(), "function.zip", &package);
    let inv = scan(&path, &ScanOptions::default());
    assert!(has(&inv, "PyPI", "requests", "2.31.0"), "{:#?}", inv.packages);
    assert!(has(&inv, "PyPI", "boto3", "1.34.0"));
    assert!(has(&inv, "npm", "lodash", "4.17.21"));
    let log4j = inv
        .packages
        .iter()
        .find(|p| p.name == "org.apache.logging.log4j:log4j-core")
        .expect("nested jar");
    assert_eq!(log4j.version, "2.14.1");
    assert_eq!(log4j.file_path, "/lib/app.war!/WEB-INF/lib/log4j-core-2.14.1.jar");
    assert_eq!(log4j.purl, "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1");
    assert!(!inv.packages.iter().any(|p| p.name == "evil"));
    assert_eq!(inv.packages.len(), 4, "{:#?}", inv.packages);
    let warnings = inv.warnings.join("\n");
    assert!(warnings.contains("../../evil/requirements.txt"), "{warnings}");
    assert!(
        warnings.contains("big/requirements.txt") && warnings.contains("ratio"),
        "{warnings}"
    );
    assert_eq!(inv.artifact_digest.as_deref(), Some(sha256(&package).as_str()));
}

#[test]
fn t02_truncated_zip_fails_with_the_archive_named() {
    let tmp = tempfile::tempdir().unwrap();
    let good = zip_bytes(&[("requirements.txt", b"a==1\n".to_vec())]);
    let path = write_file(tmp.path(), "cut.zip", &good[..good.len() - 30]);
    let err = scan_target(path.to_str().unwrap(), &ScanOptions::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cut.zip"), "{err}");
}

/// Builds a real Go program offline with the installed toolchain.
fn go_program(dir: &Path) -> (Vec<u8>, String) {
    write_file(dir, "go.mod", "module example.com/fn\n\ngo 1.18\n");
    write_file(
        dir,
        "main.go",
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n",
    );
    run_ok(
        Command::new("go")
            .args(["build", "-o", "fn", "."])
            .current_dir(dir)
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "0")
            .env("GOCACHE", dir.join("cache"))
            .env("GOPATH", dir.join("gopath")),
    );
    let version = run_ok(Command::new("go").args(["env", "GOVERSION"]))
        .trim()
        .trim_start_matches("go")
        .to_string();
    // go1.20 names the first release of a line without a patch number; OSV's stdlib has one.
    let version = if version.matches('.').count() == 1 {
        format!("{version}.0")
    } else {
        version
    };
    (std::fs::read(dir.join("fn")).unwrap(), version)
}

#[test]
fn t03_go_binaries_are_found_in_image_layers_and_lambda_bootstraps() {
    let tmp = tempfile::tempdir().unwrap();
    let (binary, go_version) = go_program(&tmp.path().join("src"));
    let img = Image::new(vec![(
        tar(&[exe("usr/local/bin/fn", &binary), file("etc/hostname", "x")]),
        Codec::Gzip,
    )]);
    let layout = tmp.path().join("layout");
    img.write_oci_layout(&layout, "1");
    let inv = scan(&layout, &ScanOptions::default());
    let stdlib = inv
        .packages
        .iter()
        .find(|p| p.name == "stdlib")
        .expect("stdlib from the binary");
    assert_eq!(
        (stdlib.ecosystem.as_str(), stdlib.version.as_str()),
        ("Go", go_version.as_str())
    );
    assert_eq!(stdlib.file_path, "/usr/local/bin/fn");
    assert_eq!(stdlib.layer_digest.as_deref(), Some(img.blobs()[0].1.as_str()));

    let zip = write_file(tmp.path(), "go-fn.zip", zip_bytes(&[("bootstrap", binary)]));
    let inv = scan(&zip, &ScanOptions::default());
    assert!(
        inv.packages
            .iter()
            .any(|p| p.name == "stdlib" && p.file_path == "/bootstrap"),
        "{:#?}",
        inv.packages
    );
}

fn apk_image(arch: &str, pkg: &str) -> Image {
    let os = "ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n";
    let db = format!("P:{pkg}\nV:1.0-r0\nA:{arch}\no:{pkg}\n\n");
    let mut img = Image::new(vec![(
        tar(&[file("etc/os-release", os), file("lib/apk/db/installed", db)]),
        Codec::Gzip,
    )]);
    img.arch = arch.into();
    img
}

#[test]
fn t04_multi_platform_index_yields_the_requested_platform_only() {
    let tmp = tempfile::tempdir().unwrap();
    write_multi_platform_layout(
        tmp.path(),
        &[apk_image("amd64", "only-amd64"), apk_image("arm64", "only-arm64")],
    );
    let arm = ScanOptions {
        platform: Some("linux/arm64".into()),
        ..ScanOptions::default()
    };
    let inv = scan(tmp.path(), &arm);
    assert_eq!(
        inv.packages.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["only-arm64"]
    );
    assert_eq!(inv.platform.as_deref(), Some("linux/arm64"));
    let amd = ScanOptions {
        platform: Some("linux/amd64".into()),
        ..ScanOptions::default()
    };
    assert_eq!(scan(tmp.path(), &amd).packages[0].name, "only-amd64");
    let s390 = ScanOptions {
        platform: Some("linux/s390x".into()),
        ..ScanOptions::default()
    };
    let err = scan_target(tmp.path().to_str().unwrap(), &s390, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linux/s390x") && err.contains("linux/arm64") && err.contains("linux/amd64"),
        "{err}"
    );
}

#[test]
fn t05_directory_symlinks_resolve_inside_the_root_and_never_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write_file(
        &root,
        "usr/lib/os-release",
        "ID=ubuntu\nVERSION_ID=\"22.04\"\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n",
    );
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink("../usr/lib/os-release", root.join("etc/os-release")).unwrap();
    write_file(
        &root,
        "var/lib/dpkg/status",
        "Package: bash\nStatus: install ok installed\nVersion: 5.1-6ubuntu1.1\nArchitecture: amd64\n\n",
    );
    write_file(&root, "srv/real/requirements.txt", "flask==2.2.5\n");
    std::fs::create_dir_all(root.join("srv/app")).unwrap();
    // Absolute links mean the artifact's root, not the scanning host's.
    std::os::unix::fs::symlink("/srv/real/requirements.txt", root.join("srv/app/requirements.txt")).unwrap();
    // Outside the tree: one climbs out, one names a host file that the tree does not have.
    let outside = write_file(tmp.path(), "outside/requirements.txt", "stolen==6.6.6\n");
    std::os::unix::fs::symlink(
        "../../../outside/requirements.txt",
        root.join("srv/app/dev-requirements.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, root.join("srv/test-requirements.txt")).unwrap();

    let inv = scan(&root, &ScanOptions::default());
    assert_eq!(
        inv.os.as_ref().and_then(|o| o.ecosystem.as_ref()).map(|e| e.as_str()),
        Some("Ubuntu:22.04")
    );
    assert!(has(&inv, "Ubuntu:22.04", "bash", "5.1-6ubuntu1.1"));
    let flask: Vec<&str> = inv
        .packages
        .iter()
        .filter(|p| p.name == "flask")
        .map(|p| p.file_path.as_str())
        .collect();
    assert_eq!(flask, ["/srv/app/requirements.txt", "/srv/real/requirements.txt"]);
    assert!(!inv.packages.iter().any(|p| p.name == "stolen"), "{:#?}", inv.packages);
    assert!(
        inv.warnings.iter().any(|w| w.contains("/srv/app/dev-requirements.txt")),
        "{:?}",
        inv.warnings
    );
}
