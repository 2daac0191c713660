//! The one place a crate [`Error`] becomes a gRPC [`Status`], and a state machine's
//! `CommandError` (a status code carried through the Raft log by name) becomes one again.

use argus_proto::internal::v1::CommandError;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};
use tracing::warn;

use crate::error::Error;

/// Response metadata naming the leader's `host:port` when a node could not serve a write
/// because it is not the leader; clients retry there.
pub const LEADER_METADATA: &str = "argus-leader";

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        match e {
            Error::InvalidArgument(message) => Status::invalid_argument(message),
            Error::NotFound(message) => Status::not_found(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            // The message tells the consumer to resync with ListFindings.
            e @ Error::CursorExpired { .. } => Status::failed_precondition(e.to_string()),
            Error::NotLeader { leader_id, leader_addr } => {
                let message = match (&leader_id, &leader_addr) {
                    (Some(id), Some(addr)) => format!("this node is not the leader: node {id} at {addr} is"),
                    _ => "this node is not the leader and knows no leader yet".to_string(),
                };
                let mut status = Status::unavailable(message);
                // An address that is not a valid header value is left out rather than failing
                // the answer: the client then rediscovers the leader by retrying any node.
                if let Some(value) = leader_addr.and_then(|a| MetadataValue::try_from(a.as_str()).ok()) {
                    status.metadata_mut().insert(LEADER_METADATA, value);
                }
                status
            }
            e @ (Error::NoLeader | Error::Transport(_) | Error::Shutdown) => Status::unavailable(e.to_string()),
            Error::Forwarded(status) => status,
            other => {
                warn!(error = %other, "internal error answered to a client");
                Status::internal(other.to_string())
            }
        }
    }
}

/// The status a command refused by the state machine is answered with. The code travels by
/// name through the replicated log; an unknown name is a bug on our side, hence INTERNAL.
pub fn command_error_status(e: &CommandError) -> Status {
    match code_from_name(&e.code) {
        Some(Code::Internal) | None => {
            warn!(code = %e.code, message = %e.message, "state machine refused a command");
            Status::internal(e.message.clone())
        }
        Some(code) => Status::new(code, e.message.clone()),
    }
}

/// Accepts a gRPC code by its canonical name (`NOT_FOUND`), tonic's spelling (`NotFound`) or
/// its number (`5`).
pub fn code_from_name(name: &str) -> Option<Code> {
    let name = name.trim();
    if let Ok(n) = name.parse::<i32>() {
        let code = Code::from_i32(n);
        // from_i32 turns every unknown number into Unknown.
        return (n == Code::Unknown as i32 || code != Code::Unknown).then_some(code);
    }
    let wanted: String = name
        .chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    ALL_CODES.iter().copied().find(|code| {
        let canonical: String = format!("{code:?}").chars().flat_map(char::to_lowercase).collect();
        canonical == wanted
    })
}

const ALL_CODES: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn status(e: Error) -> Status {
        Status::from(e)
    }

    #[test]
    fn client_mistakes_keep_their_codes_and_messages() {
        let s = status(Error::InvalidArgument("page_size must be at most 1000".into()));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "page_size must be at most 1000");
        let s = status(Error::NotFound("finding abc".into()));
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(s.message(), "finding abc");
        assert_eq!(
            status(Error::FailedPrecondition("x".into())).code(),
            Code::FailedPrecondition
        );
    }

    #[test]
    fn an_expired_cursor_asks_the_consumer_to_resync() {
        let s = status(Error::CursorExpired { cursor: 3, first: 90 });
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert!(s.message().contains("resync with ListFindings"), "{}", s.message());
        assert!(s.message().contains("90"), "{}", s.message());
    }

    #[test]
    fn leadership_and_transport_trouble_is_unavailable_so_clients_retry() {
        for e in [
            Error::NoLeader,
            Error::Transport("connection refused".into()),
            Error::Shutdown,
        ] {
            assert_eq!(status(e).code(), Code::Unavailable);
        }
    }

    #[test]
    fn not_leader_names_the_leader_in_metadata() {
        let s = status(Error::NotLeader {
            leader_id: Some(2),
            leader_addr: Some("10.0.0.2:7400".into()),
        });
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(
            s.metadata().get(LEADER_METADATA).unwrap().to_str().unwrap(),
            "10.0.0.2:7400"
        );

        let s = status(Error::NotLeader {
            leader_id: None,
            leader_addr: None,
        });
        assert_eq!(s.code(), Code::Unavailable);
        assert!(s.metadata().get(LEADER_METADATA).is_none());

        // Not a valid header value: the status still goes out, without the hint.
        let s = status(Error::NotLeader {
            leader_id: Some(2),
            leader_addr: Some("bad\naddr".into()),
        });
        assert_eq!(s.code(), Code::Unavailable);
        assert!(s.metadata().get(LEADER_METADATA).is_none());
    }

    #[test]
    fn a_status_forwarded_from_the_leader_is_passed_through_unchanged() {
        let s = status(Error::Forwarded(Status::already_exists("rule x")));
        assert_eq!(s.code(), Code::AlreadyExists);
        assert_eq!(s.message(), "rule x");
    }

    #[test]
    fn everything_else_is_internal() {
        let errors = [
            Error::Corrupt {
                cf: "findings",
                detail: "truncated".into(),
            },
            Error::Raft("storage".into()),
            Error::Config("bad".into()),
            Error::io("/x", std::io::Error::other("disk")),
        ];
        for e in errors {
            assert_eq!(status(e).code(), Code::Internal);
        }
    }

    #[test]
    fn command_error_codes_are_read_in_every_spelling() {
        assert_eq!(code_from_name("NOT_FOUND"), Some(Code::NotFound));
        assert_eq!(code_from_name("NotFound"), Some(Code::NotFound));
        assert_eq!(code_from_name("invalid_argument"), Some(Code::InvalidArgument));
        assert_eq!(code_from_name("FAILED_PRECONDITION"), Some(Code::FailedPrecondition));
        assert_eq!(code_from_name("5"), Some(Code::NotFound));
        assert_eq!(code_from_name("2"), Some(Code::Unknown));
        assert_eq!(code_from_name("99"), None);
        assert_eq!(code_from_name("NOT_A_CODE"), None);
        assert_eq!(code_from_name(""), None);
        for code in ALL_CODES {
            assert_eq!(code_from_name(&(code as i32).to_string()), Some(code));
        }
    }

    #[test]
    fn a_refused_command_is_answered_with_its_code() {
        let s = command_error_status(&CommandError {
            code: "NOT_FOUND".into(),
            message: "no rule r1".into(),
        });
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(s.message(), "no rule r1");
        let s = command_error_status(&CommandError {
            code: "SOMETHING".into(),
            message: "m".into(),
        });
        assert_eq!(s.code(), Code::Internal);
    }
}
