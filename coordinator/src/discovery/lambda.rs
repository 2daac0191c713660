//! Lambda functions of one account and region. The artifact is the deployment package, named
//! by its CodeSha256; functions that share a package share one scan.

use std::collections::HashMap;

use argus_proto::v1::resource::Details;
use argus_proto::v1::{LambdaFunctionDetails, Resource, ResourceType};
use aws_sdk_lambda::types::FunctionConfiguration;

use super::aws::aws_error;
use crate::error::Result;

pub async fn functions(client: &aws_sdk_lambda::Client, account_id: &str, region: &str) -> Result<Vec<Resource>> {
    let mut functions = Vec::new();
    let mut pages = client.list_functions().max_items(50).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("lambda:ListFunctions", e))?;
        functions.extend(page.functions().iter().cloned());
    }
    let mut out = Vec::new();
    for f in &functions {
        let Some(arn) = f.function_arn() else { continue };
        // ListFunctions does not return tags: one ListTags per function.
        let tags: HashMap<String, String> = client
            .list_tags()
            .resource(arn)
            .send()
            .await
            .map_err(|e| aws_error("lambda:ListTags", e))?
            .tags()
            .cloned()
            .unwrap_or_default();
        out.push(resource(f, arn, tags, account_id, region));
    }
    Ok(out)
}

fn resource(
    f: &FunctionConfiguration,
    arn: &str,
    tags: HashMap<String, String>,
    account_id: &str,
    region: &str,
) -> Resource {
    let layers: Vec<String> = f.layers().iter().filter_map(|l| l.arn().map(str::to_string)).collect();
    Resource {
        r#type: ResourceType::AwsLambdaFunction as i32,
        resource_id: arn.to_string(),
        account_id: account_id.to_string(),
        region: region.to_string(),
        tags,
        artifact_digest: f
            .code_sha256()
            .and_then(|sha| argus_worker::cloud::lambda_digest(sha, &layers))
            .unwrap_or_default(),
        // Workers fetch the package through GetFunction with their own credentials.
        artifact_locator: format!("lambda:{arn}"),
        details: Some(Details::LambdaFunction(LambdaFunctionDetails {
            function_name: f.function_name().unwrap_or_default().to_string(),
            runtime: f.runtime().map(|r| r.as_str().to_string()).unwrap_or_default(),
            package_type: f.package_type().map(|p| p.as_str().to_string()).unwrap_or_default(),
            architectures: f.architectures().iter().map(|a| a.as_str().to_string()).collect(),
            execution_role: f.role().unwrap_or_default().to_string(),
            layers,
            last_modified_at: f.last_modified().and_then(last_modified),
        })),
        ..Default::default()
    }
}

/// `2024-05-01T12:00:00.000+0000`, Lambda's format for LastModified; RFC 3339 (`...Z`, as moto
/// writes it) is read too.
fn last_modified(s: &str) -> Option<prost_types::Timestamp> {
    let t = chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()?;
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_reads_lambdas_format() {
        let t = last_modified("2024-05-01T12:00:00.250+0000").unwrap();
        assert_eq!((t.seconds, t.nanos), (1_714_564_800, 250_000_000));
        let t = last_modified("2024-05-01T12:00:00.250000000Z").unwrap();
        assert_eq!((t.seconds, t.nanos), (1_714_564_800, 250_000_000));
        assert!(last_modified("yesterday").is_none());
    }
}
