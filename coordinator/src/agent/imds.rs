//! The EC2 instance metadata service: who this host is when it runs on EC2 (instance id,
//! account, region), read from the signed identity document with an IMDSv2 session token, or
//! without one where only IMDSv1 answers.

use std::time::Duration;

use serde::Deserialize;

/// What the identity document says about this instance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceIdentity {
    pub instance_id: String,
    pub account_id: String,
    pub region: String,
}

const TOKEN_PATH: &str = "/latest/api/token";
const DOCUMENT_PATH: &str = "/latest/dynamic/instance-identity/document";

/// Reads the identity document from `endpoint` (`http://169.254.169.254` on EC2). `None` when
/// nothing answers there in `timeout` or the answer is not an identity document: the host is
/// not on EC2 (or its metadata service is off) and must be named by configuration.
pub fn identity(endpoint: &str, timeout: Duration) -> Option<InstanceIdentity> {
    let agent = ureq::AgentBuilder::new().timeout(timeout).build();
    let base = endpoint.trim_end_matches('/');
    // IMDSv2 first: instances may require it. A service that refuses the token request (an old
    // IMDSv1-only one) is asked without a token.
    let token = agent
        .put(&format!("{base}{TOKEN_PATH}"))
        .set("X-aws-ec2-metadata-token-ttl-seconds", "60")
        .call()
        .ok()
        .and_then(|r| r.into_string().ok());
    let mut request = agent.get(&format!("{base}{DOCUMENT_PATH}"));
    if let Some(t) = &token {
        request = request.set("X-aws-ec2-metadata-token", t.trim());
    }
    let body = request.call().ok()?.into_string().ok()?;
    serde_json::from_str::<InstanceIdentity>(&body)
        .ok()
        .filter(|i| !i.instance_id.is_empty() && !i.account_id.is_empty())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::*;

    const DOCUMENT: &str = r#"{"accountId":"123456789012","architecture":"x86_64","availabilityZone":"eu-west-1a","imageId":"ami-0abc","instanceId":"i-0123456789abcdef0","instanceType":"t3.micro","pendingTime":"2026-11-01T10:00:00Z","privateIp":"10.0.1.5","region":"eu-west-1","version":"2017-09-30"}"#;

    /// Serves the IMDS protocol on loopback for `requests` connections: a token for the PUT,
    /// the document for a GET (only with the token when `v2_only`), 404 otherwise. Returns
    /// the endpoint and what each request carried.
    fn serve(v2_only: bool, requests: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let lower = head.to_ascii_lowercase();
                let with_token = lower.contains("x-aws-ec2-metadata-token: tok-1");
                let (status, body) = if head.starts_with(&format!("PUT {TOKEN_PATH}")) {
                    ("200 OK", "tok-1")
                } else if head.starts_with(&format!("GET {DOCUMENT_PATH}")) && (with_token || !v2_only) {
                    ("200 OK", DOCUMENT)
                } else if head.starts_with("GET") {
                    ("401 Unauthorized", "")
                } else {
                    ("404 Not Found", "")
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                seen.push(
                    head.lines().next().unwrap_or_default().to_string() + if with_token { " +token" } else { "" },
                );
            }
            seen
        });
        (endpoint, handle)
    }

    #[test]
    fn the_identity_comes_from_the_document_read_with_an_imdsv2_token() {
        let (endpoint, server) = serve(true, 2);
        let id = identity(&endpoint, Duration::from_secs(5)).unwrap();
        assert_eq!(
            id,
            InstanceIdentity {
                instance_id: "i-0123456789abcdef0".into(),
                account_id: "123456789012".into(),
                region: "eu-west-1".into(),
            }
        );
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("PUT /latest/api/token"), "{seen:?}");
        assert!(seen[1].ends_with("+token"), "{seen:?}");
    }

    #[test]
    fn nothing_listening_means_not_on_ec2() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert_eq!(
            identity(&format!("http://127.0.0.1:{port}"), Duration::from_millis(500)),
            None
        );
    }
}
