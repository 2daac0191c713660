//! Images are pulled from a real registry (Debian's `docker-registry`, the reference OCI
//! distribution server) on loopback, pushed there by `skopeo`: anonymously, with Basic
//! credentials, by tag and by digest.

use std::path::Path;
use std::process::Command;

use argus_proto::Inventory;
use argus_tests::image::{file, tar, Codec, Image};
use argus_tests::registry::{htpasswd_auth, push, start_registry};
use argus_tests::run_ok;
use argus_worker::artifact::registry::RegistryOptions;
use argus_worker::artifact::NoProgress;
use argus_worker::{scan_target, ScanOptions};

fn image() -> Image {
    let os = "ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n";
    let apk =
        "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\nC:Q1def=\nP:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\n\n";
    Image::new(vec![
        (
            tar(&[file("etc/os-release", os), file("lib/apk/db/installed", apk)]),
            Codec::Gzip,
        ),
        (
            tar(&[file("srv/app/requirements.txt", "requests==2.31.0\nurllib3==2.0.7\n")]),
            Codec::Zstd,
        ),
    ])
}

fn names(inv: &Inventory) -> Vec<(String, String, Option<String>)> {
    inv.packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone(), p.layer_digest.clone()))
        .collect()
}

fn plain_http() -> ScanOptions {
    ScanOptions {
        registry: RegistryOptions {
            plain_http: true,
            ..Default::default()
        },
        ..ScanOptions::default()
    }
}

#[test]
fn t01_anonymous_pull_by_tag_and_by_digest_matches_the_local_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = start_registry(&tmp.path().join("reg"), "");
    let layout = tmp.path().join("layout");
    let manifest_digest = image().write_oci_layout(&layout, "1");
    let local = scan_target(layout.to_str().unwrap(), &ScanOptions::default(), &NoProgress).unwrap();
    assert_eq!(local.packages.len(), 4, "{:#?}", local.packages);

    push(&layout, &format!("127.0.0.1:{}/team/app:1", reg.port), None);
    let by_tag = scan_target(
        &format!("127.0.0.1:{}/team/app:1", reg.port),
        &plain_http(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(names(&by_tag), names(&local));
    assert_eq!(by_tag.artifact_digest.as_deref(), Some(manifest_digest.as_str()));
    assert_eq!(
        by_tag
            .os
            .as_ref()
            .and_then(|o| o.ecosystem.as_ref())
            .map(|e| e.as_str()),
        Some("Alpine:v3.20")
    );

    let by_digest = scan_target(
        &format!("127.0.0.1:{}/team/app@{manifest_digest}", reg.port),
        &plain_http(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(names(&by_digest), names(&local));

    let wrong = format!("127.0.0.1:{}/team/app@sha256:{}", reg.port, "0".repeat(64));
    let err = scan_target(&wrong, &plain_http(), &NoProgress).unwrap_err().to_string();
    assert!(err.contains("not found") || err.contains("404"), "{err}");
    let err = scan_target(
        &format!("127.0.0.1:{}/team/missing:1", reg.port),
        &plain_http(),
        &NoProgress,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("not found") || err.contains("404"), "{err}");
}

#[test]
fn t02_basic_auth_registry_needs_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let reg_dir = tmp.path().join("reg");
    let reg = start_registry(&reg_dir, &htpasswd_auth(&reg_dir, &format!("scanner:{hash}")));
    let layout = tmp.path().join("layout");
    image().write_oci_layout(&layout, "1");
    let target = format!("127.0.0.1:{}/team/private:1", reg.port);
    push(&layout, &target, Some("scanner:s3cret"));

    let err = scan_target(&target, &plain_http(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Basic credentials"), "{err}");
    let mut opts = plain_http();
    opts.registry.username = Some("scanner".into());
    opts.registry.password = Some("wrong".into());
    let err = scan_target(&target, &opts, &NoProgress).unwrap_err().to_string();
    assert!(err.contains("401") || err.contains("unauthorized"), "{err}");
    opts.registry.password = Some("s3cret".into());
    let inv = scan_target(&target, &opts, &NoProgress).unwrap();
    assert_eq!(inv.packages.len(), 4);
}

#[test]
fn t03_https_is_the_default_and_plain_http_must_be_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = start_registry(&tmp.path().join("reg"), "");
    let err = scan_target(
        &format!("127.0.0.1:{}/team/app:1", reg.port),
        &ScanOptions::default(),
        &NoProgress,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("https://127.0.0.1"), "{err}");
}

/// A token service for the registry's `token` auth: hands out a JWT signed with a key the
/// registry trusts (the real registry verifies it), only to clients with the right Basic
/// credentials. Returns the port it listens on.
fn start_token_service(dir: &Path, user: &'static str, pass: &'static str, repo: &str) -> (u16, std::path::PathBuf) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = dir.join("key.pem");
    let cert = dir.join("cert.pem");
    std::fs::create_dir_all(dir).unwrap();
    run_ok(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=argus-test-issuer",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .output()
        .unwrap()
        .stdout;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [base64::engine::general_purpose::STANDARD.encode(&der)]});
    let claims = serde_json::json!({
        "iss": "argus-test-issuer", "sub": user, "aud": "argus-registry",
        "exp": now + 3600, "nbf": now - 60, "iat": now - 60, "jti": "argus-test",
        "access": [{"type": "repository", "name": repo, "actions": ["pull", "push"]}]
    });
    let signing_input = format!("{}.{}", b64.encode(header.to_string()), b64.encode(claims.to_string()));
    let input_file = dir.join("signing-input");
    std::fs::write(&input_file, &signing_input).unwrap();
    let sig = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(&key)
        .arg(&input_file)
        .output()
        .unwrap();
    assert!(sig.status.success());
    let token = format!("{signing_input}.{}", b64.encode(&sig.stdout));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    );
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut authorized = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("authorization") && v.trim() == expected {
                        authorized = true;
                    }
                }
            }
            let (status, body) = if authorized {
                (
                    "200 OK",
                    serde_json::json!({"token": token, "expires_in": 3600}).to_string(),
                )
            } else {
                ("401 Unauthorized", "{}".to_string())
            };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    (port, cert)
}

#[test]
fn t04_bearer_token_challenge_is_answered_through_the_token_service() {
    let tmp = tempfile::tempdir().unwrap();
    let (token_port, cert) = start_token_service(&tmp.path().join("tok"), "scanner", "s3cret", "team/tokened");
    let auth = format!(
        "auth:\n  token:\n    realm: http://127.0.0.1:{token_port}/token\n    service: argus-registry\n    issuer: argus-test-issuer\n    rootcertbundle: {}\n",
        cert.display()
    );
    let reg = start_registry(&tmp.path().join("reg"), &auth);
    let port = reg.port;
    let layout = tmp.path().join("layout");
    image().write_oci_layout(&layout, "1");
    let target = format!("127.0.0.1:{port}/team/tokened:1");
    push(&layout, &target, Some("scanner:s3cret"));

    let err = scan_target(&target, &plain_http(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("token request"),
        "anonymous token request must be refused: {err}"
    );
    let mut opts = plain_http();
    opts.registry.username = Some("scanner".into());
    opts.registry.password = Some("s3cret".into());
    let inv = scan_target(&target, &opts, &NoProgress).unwrap();
    assert_eq!(inv.packages.len(), 4);
}
