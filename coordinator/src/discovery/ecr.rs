//! ECR repositories and their images in one account and region. Each image (by manifest digest)
//! is one resource; its locator is the registry reference a worker pulls.

use std::collections::HashMap;

use argus_proto::v1::resource::Details;
use argus_proto::v1::{ContainerImageDetails, Resource, ResourceType};
use aws_sdk_ecr::types::Repository;

use super::aws::aws_error;
use super::timestamp;
use crate::error::Result;

pub async fn images(client: &aws_sdk_ecr::Client, account_id: &str, region: &str) -> Result<Vec<Resource>> {
    let mut repositories = Vec::new();
    let mut pages = client.describe_repositories().max_results(1000).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ecr:DescribeRepositories", e))?;
        repositories.extend(page.repositories().iter().cloned());
    }
    let mut out = Vec::new();
    for repo in &repositories {
        out.extend(repository_images(client, repo, account_id, region).await?);
    }
    Ok(out)
}

async fn repository_images(
    client: &aws_sdk_ecr::Client,
    repo: &Repository,
    account_id: &str,
    region: &str,
) -> Result<Vec<Resource>> {
    let (Some(name), Some(uri)) = (repo.repository_name(), repo.repository_uri()) else {
        return Ok(Vec::new());
    };
    let tags: HashMap<String, String> = match repo.repository_arn() {
        Some(arn) => client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error("ecr:ListTagsForResource", e))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        None => HashMap::new(),
    };
    let registry = uri.split_once('/').map_or(uri, |(host, _)| host).to_string();
    let mut out = Vec::new();
    let mut pages = client
        .describe_images()
        .repository_name(name)
        .set_registry_id(repo.registry_id().map(str::to_string))
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ecr:DescribeImages", e))?;
        for image in page.image_details() {
            let Some(digest) = image.image_digest() else { continue };
            let mut image_tags = image.image_tags().to_vec();
            image_tags.sort();
            out.push(Resource {
                r#type: ResourceType::AwsEcrContainerImage as i32,
                // As Inspector names an ECR image: the repository's ARN and the digest.
                resource_id: format!("arn:aws:ecr:{region}:{account_id}:repository/{name}/{digest}"),
                account_id: account_id.to_string(),
                region: region.to_string(),
                tags: tags.clone(),
                artifact_digest: digest.to_string(),
                artifact_locator: format!("registry:{uri}@{digest}"),
                details: Some(Details::ContainerImage(ContainerImageDetails {
                    registry: registry.clone(),
                    repository: name.to_string(),
                    tags: image_tags,
                    media_type: image.image_manifest_media_type().unwrap_or_default().to_string(),
                    platform: String::new(),
                    pushed_at: image.image_pushed_at().map(timestamp),
                    last_in_use_at: image.last_recorded_pull_time().map(timestamp),
                })),
                ..Default::default()
            });
        }
    }
    Ok(out)
}
