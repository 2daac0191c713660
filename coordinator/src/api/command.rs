//! Public write requests travel through the Raft log as one `Command` each and come back as
//! the matching `CommandResult`.

use argus_proto::internal::v1::{command, command_result, Command, CommandResult};
use argus_proto::v1;
use tonic::Status;
use tracing::warn;

use super::status::command_error_status;
use crate::node::Node;
use crate::state::State;

/// A write request of the public API and the response the state machine answers it with.
pub trait WriteRequest: Sized {
    type Response;
    fn into_command(self) -> Command;
    /// The response if `kind` is the one this request is answered with.
    fn take_response(kind: command_result::Kind) -> Option<Self::Response>;
}

macro_rules! write_requests {
    ($($variant:ident: $request:ty => $response:ty;)*) => {$(
        impl WriteRequest for $request {
            type Response = $response;

            fn into_command(self) -> Command {
                Command { kind: Some(command::Kind::$variant(self)) }
            }

            fn take_response(kind: command_result::Kind) -> Option<$response> {
                match kind {
                    command_result::Kind::$variant(r) => Some(r),
                    _ => None,
                }
            }
        }
    )*};
}

write_requests! {
    PutAccounts: v1::PutAccountsRequest => v1::PutAccountsResponse;
    RemoveAccounts: v1::RemoveAccountsRequest => v1::RemoveAccountsResponse;
    PutResources: v1::PutResourcesRequest => v1::PutResourcesResponse;
    RemoveResources: v1::RemoveResourcesRequest => v1::RemoveResourcesResponse;
    IngestScanResults: v1::IngestScanResultsRequest => v1::IngestScanResultsResponse;
    PutSuppressionRule: v1::PutSuppressionRuleRequest => v1::PutSuppressionRuleResponse;
    DeleteSuppressionRule: v1::DeleteSuppressionRuleRequest => v1::DeleteSuppressionRuleResponse;
    ReportHostInventory: v1::ReportHostInventoryRequest => v1::ReportHostInventoryResponse;
}

/// Validates `request` (a refused request changes nothing anywhere), applies it through Raft
/// from whichever node received it, and unwraps the state machine's answer.
pub async fn apply<R: WriteRequest>(node: &Node, request: R) -> Result<R::Response, Status> {
    let command = request.into_command();
    State::validate(&command)?;
    let result = node.write(command).await?;
    into_response::<R>(result)
}

/// The response in `result`, the refusal it carries as its status, or INTERNAL when the state
/// machine answered with something else (a bug: one result per command, in order).
pub fn into_response<R: WriteRequest>(result: CommandResult) -> Result<R::Response, Status> {
    let Some(kind) = result.kind else {
        warn!("state machine returned an empty command result");
        return Err(Status::internal("the state machine returned an empty result"));
    };
    if let command_result::Kind::Error(e) = &kind {
        return Err(command_error_status(e));
    }
    let answered = kind_name(&kind);
    R::take_response(kind).ok_or_else(|| {
        warn!(
            answered,
            "state machine answered a command with another command's result"
        );
        Status::internal(format!("the state machine answered with a {answered} result"))
    })
}

fn kind_name(kind: &command_result::Kind) -> &'static str {
    use command_result::Kind;
    match kind {
        Kind::PutAccounts(_) => "PutAccounts",
        Kind::RemoveAccounts(_) => "RemoveAccounts",
        Kind::PutResources(_) => "PutResources",
        Kind::RemoveResources(_) => "RemoveResources",
        Kind::IngestScanResults(_) => "IngestScanResults",
        Kind::PutSuppressionRule(_) => "PutSuppressionRule",
        Kind::DeleteSuppressionRule(_) => "DeleteSuppressionRule",
        Kind::CompactChangeLog(_) => "CompactChangeLog",
        Kind::SetCoverage(_) => "SetCoverage",
        Kind::DispatchJobs(_) => "DispatchJobs",
        Kind::ExpireJobs(_) => "ExpireJobs",
        Kind::RequestScans(_) => "RequestScans",
        Kind::Reevaluate(_) => "Reevaluate",
        Kind::SetNetworkExposures(_) => "SetNetworkExposures",
        Kind::ReportHostInventory(_) => "ReportHostInventory",
        Kind::MarkStaleInventories(_) => "MarkStaleInventories",
        Kind::Error(_) => "Error",
    }
}

#[cfg(test)]
mod tests {
    use argus_proto::internal::v1::CommandError;
    use tonic::Code;

    use super::*;

    fn result(kind: command_result::Kind) -> CommandResult {
        CommandResult { kind: Some(kind) }
    }

    #[test]
    fn each_write_request_becomes_the_command_of_the_same_name() {
        let ids = vec!["i-1".to_string(), "i-2".to_string()];
        let command = v1::RemoveResourcesRequest {
            resource_ids: ids.clone(),
        }
        .into_command();
        assert_eq!(
            command.kind,
            Some(command::Kind::RemoveResources(v1::RemoveResourcesRequest {
                resource_ids: ids
            }))
        );

        let rule = v1::SuppressionRule {
            name: "accepted-risk".into(),
            reason: "legacy".into(),
            ..Default::default()
        };
        let command = v1::PutSuppressionRuleRequest {
            rule: Some(rule.clone()),
        }
        .into_command();
        assert_eq!(
            command.kind,
            Some(command::Kind::PutSuppressionRule(v1::PutSuppressionRuleRequest {
                rule: Some(rule)
            }))
        );

        let kinds = [
            v1::PutAccountsRequest::default().into_command(),
            v1::RemoveAccountsRequest::default().into_command(),
            v1::PutResourcesRequest::default().into_command(),
            v1::RemoveResourcesRequest::default().into_command(),
            v1::IngestScanResultsRequest::default().into_command(),
            v1::PutSuppressionRuleRequest::default().into_command(),
            v1::DeleteSuppressionRuleRequest::default().into_command(),
        ]
        .map(|c| match c.kind {
            Some(command::Kind::PutAccounts(_)) => 1,
            Some(command::Kind::RemoveAccounts(_)) => 2,
            Some(command::Kind::PutResources(_)) => 3,
            Some(command::Kind::RemoveResources(_)) => 4,
            Some(command::Kind::IngestScanResults(_)) => 5,
            Some(command::Kind::PutSuppressionRule(_)) => 6,
            Some(command::Kind::DeleteSuppressionRule(_)) => 7,
            _ => 0,
        });
        assert_eq!(kinds, [1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn the_matching_result_is_unwrapped() {
        let r = v1::IngestScanResultsResponse {
            applied: 3,
            findings_created: 40,
            ..Default::default()
        };
        let got = into_response::<v1::IngestScanResultsRequest>(result(command_result::Kind::IngestScanResults(r)));
        assert_eq!(got.unwrap(), r);

        let r = v1::DeleteSuppressionRuleResponse { findings_restored: 7 };
        let got =
            into_response::<v1::DeleteSuppressionRuleRequest>(result(command_result::Kind::DeleteSuppressionRule(r)));
        assert_eq!(got.unwrap(), r);
    }

    #[test]
    fn a_refusal_becomes_its_status() {
        let refused = result(command_result::Kind::Error(CommandError {
            code: "NOT_FOUND".into(),
            message: "no suppression rule named r1".into(),
        }));
        let s = into_response::<v1::DeleteSuppressionRuleRequest>(refused).unwrap_err();
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(s.message(), "no suppression rule named r1");

        let refused = result(command_result::Kind::Error(CommandError {
            code: "INVALID_ARGUMENT".into(),
            message: "resource r has no account".into(),
        }));
        let s = into_response::<v1::PutResourcesRequest>(refused).unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument);
    }

    #[test]
    fn another_commands_result_or_none_is_internal() {
        let wrong = result(command_result::Kind::PutAccounts(v1::PutAccountsResponse {
            created: 1,
            updated: 0,
        }));
        let s = into_response::<v1::PutResourcesRequest>(wrong).unwrap_err();
        assert_eq!(s.code(), Code::Internal);
        assert!(s.message().contains("PutAccounts"), "{}", s.message());

        let s = into_response::<v1::PutResourcesRequest>(CommandResult { kind: None }).unwrap_err();
        assert_eq!(s.code(), Code::Internal);
    }
}
