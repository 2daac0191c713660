use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use super::*;

#[test]
fn ecr_registry_hosts_name_their_account_and_region() {
    assert_eq!(
        ecr_registry("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
        Some(("123456789012".into(), "eu-west-1".into()))
    );
    assert_eq!(
        ecr_registry("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com:443"),
        Some(("123456789012".into(), "us-gov-west-1".into()))
    );
    assert_eq!(
        ecr_registry("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"),
        Some(("123456789012".into(), "cn-north-1".into()))
    );
    for other in [
        "registry.example.com",
        "docker.io",
        "12345.dkr.ecr.eu-west-1.amazonaws.com",
        "123456789012.dkr.ecr.eu-west-1.example.com",
        "public.ecr.aws",
        "127.0.0.1:5000",
    ] {
        assert_eq!(ecr_registry(other), None, "{other}");
    }
}

#[test]
fn function_arns_name_their_region_and_account() {
    assert_eq!(
        arn_region_account("arn:aws:lambda:eu-west-1:123456789012:function:checkout"),
        Some(("eu-west-1".into(), "123456789012".into()))
    );
    assert_eq!(arn_region_account("arn:aws:s3:::bucket"), None);
    assert_eq!(arn_region_account("checkout"), None);
}

#[test]
fn a_function_without_layers_is_named_by_its_package_and_layers_change_the_name() {
    let sha = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let code = format!("sha256:{}", hex::encode([7u8; 32]));
    assert_eq!(lambda_digest(&sha, &[]), Some(code.clone()));
    let a = "arn:aws:lambda:eu-west-1:123456789012:layer:deps:1".to_string();
    let b = "arn:aws:lambda:eu-west-1:123456789012:layer:deps:2".to_string();
    let with_a = lambda_digest(&sha, std::slice::from_ref(&a)).unwrap();
    assert_ne!(with_a, code);
    assert_ne!(with_a, lambda_digest(&sha, std::slice::from_ref(&b)).unwrap());
    assert_ne!(
        lambda_digest(&sha, &[a.clone(), b.clone()]),
        lambda_digest(&sha, &[b, a])
    );
    assert_eq!(lambda_digest("not base64!", &[]), None);
    assert_eq!(
        lambda_digest(&base64::engine::general_purpose::STANDARD.encode([1u8; 5]), &[]),
        None
    );
}

#[test]
fn a_download_endpoint_keeps_the_path_and_sends_the_original_host() {
    let url = "https://awslambda-eu-west-1-tasks.s3.eu-west-1.amazonaws.com/snapshots/1/f-abc?X-Amz-Signature=1";
    assert_eq!(rewrite(url, None).unwrap(), (url.to_string(), None));
    assert_eq!(
        rewrite(url, Some("http://127.0.0.1:9000/")).unwrap(),
        (
            "http://127.0.0.1:9000/snapshots/1/f-abc?X-Amz-Signature=1".to_string(),
            Some("awslambda-eu-west-1-tasks.s3.eu-west-1.amazonaws.com".to_string())
        )
    );
    assert!(rewrite("s3://", Some("http://127.0.0.1:9000")).is_ok());
    assert!(rewrite("no scheme", Some("http://127.0.0.1:9000")).is_err());
}

/// Serves `body` with `status` to one request on loopback; returns the endpoint and the
/// request head it received.
fn serve_once(status: &'static str, body: Vec<u8>) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(&body);
        head
    });
    (endpoint, handle)
}

fn access(endpoint: &str, max: u64) -> CloudAccess {
    CloudAccess::new(CloudConfig {
        download_endpoint: Some(endpoint.to_string()),
        max_download_bytes: max,
        call_timeout_secs: 5,
        ..CloudConfig::default()
    })
}

const URL: &str = "https://bucket.s3.eu-west-1.amazonaws.com/pkg.zip";

#[test]
fn a_download_is_verified_against_the_stated_sha256() {
    let body = b"PK\x05\x06 the package".to_vec();
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("pkg.zip");

    let (endpoint, server) = serve_once("200 OK", body.clone());
    access(&endpoint, 1 << 20).download(URL, &dest, &sha).unwrap();
    let head = server.join().unwrap();
    assert!(head.starts_with("GET /pkg.zip HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("host: bucket.s3.eu-west-1.amazonaws.com"),
        "{head}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), body);

    let (endpoint, server) = serve_once("200 OK", b"something else".to_vec());
    let err = access(&endpoint, 1 << 20).download(URL, &dest, &sha).unwrap_err();
    server.join().unwrap();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
}

#[test]
fn a_download_larger_than_the_limit_is_refused() {
    let (endpoint, server) = serve_once("200 OK", vec![b'x'; 5000]);
    let dir = tempfile::tempdir().unwrap();
    let err = access(&endpoint, 4096)
        .download(URL, &dir.path().join("pkg.zip"), "")
        .unwrap_err();
    server.join().unwrap();
    assert!(matches!(err, Error::Limit { .. }), "{err}");
}

#[test]
fn a_forbidden_download_is_access_denied() {
    let (endpoint, server) = serve_once("403 Forbidden", Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let err = access(&endpoint, 4096)
        .download(URL, &dir.path().join("pkg.zip"), "")
        .unwrap_err();
    server.join().unwrap();
    assert!(matches!(err, Error::Cloud { denied: true, .. }), "{err}");
    assert_eq!(
        crate::runner::outcome_of(&err),
        argus_proto::v1::ScanOutcome::AccessDenied
    );
}

#[test]
fn the_configuration_rejects_unknown_fields() {
    let c: CloudConfig =
        toml::from_str("role_name = \"Scan\"\necr_registry_endpoint = \"http://127.0.0.1:5000\"").unwrap();
    assert_eq!(c.role_name, "Scan");
    assert_eq!(c.session_name, "argus-worker");
    assert!(toml::from_str::<CloudConfig>("rolename = \"x\"").is_err());
}

fn write_zip(path: &Path, files: &[(&str, &str)]) {
    let mut zip = ::zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, text) in files {
        zip.start_file(*name, ::zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn a_lambda_package_is_read_in_var_task_and_its_layers_in_opt_named_by_their_arn() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("function.zip");
    write_zip(
        &code,
        &[
            ("requirements.txt", "requests==2.19.0\n"),
            ("app.py", "import requests\n"),
        ],
    );
    let layer = dir.path().join("layer.zip");
    write_zip(
        &layer,
        &[(
            "nodejs/node_modules/lodash/package.json",
            r#"{"name": "lodash", "version": "4.17.20"}"#,
        )],
    );
    let arn = "arn:aws:lambda:eu-west-1:123456789012:layer:deps:3".to_string();
    let inv = crate::scan::scan_lambda(
        "lambda:arn:aws:lambda:eu-west-1:123456789012:function:checkout",
        &code,
        &[(arn.clone(), layer)],
        &crate::ScanOptions::default(),
    )
    .unwrap();
    let got: Vec<(String, String, Option<String>, String)> = inv
        .packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.version.clone(),
                p.layer_digest.clone(),
                p.file_path.clone(),
            )
        })
        .collect();
    assert!(
        got.contains(&(
            "requests".into(),
            "2.19.0".into(),
            None,
            "/var/task/requirements.txt".into()
        )),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|(n, v, layer, _)| n == "lodash" && v == "4.17.20" && layer.as_ref() == Some(&arn)),
        "{got:?}"
    );
}
