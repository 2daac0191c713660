use std::collections::HashMap;

use argus_proto::v1::{AgentReport, Ec2InstanceDetails};

use super::*;

fn instance(id: &str) -> Resource {
    Resource {
        r#type: ResourceType::AwsEc2Instance as i32,
        resource_id: id.into(),
        account_id: "111111111111".into(),
        region: "eu-west-1".into(),
        details: Some(Details::Ec2Instance(Ec2InstanceDetails {
            state: "running".into(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn managed(platform: &str, version: &str) -> Managed {
    Managed {
        status: SsmManagedStatus {
            ping_status: "Online".into(),
            agent_version: "3.3.40.0".into(),
            platform_name: platform.into(),
            platform_version: version.into(),
        },
        computer_name: "ip-10-0-0-1.eu-west-1.compute.internal".into(),
    }
}

fn apps(packages: &[(&str, &str)]) -> Applications {
    Applications {
        captured_at: Some("2026-11-20T10:00:00Z".into()),
        entries: packages
            .iter()
            .map(|(n, v)| {
                HashMap::from([
                    ("Name".to_string(), n.to_string()),
                    ("Version".to_string(), v.to_string()),
                ])
            })
            .collect(),
    }
}

/// Three managed instances (Ubuntu with packages, Windows with packages, Ubuntu without an
/// inventory yet) and one that SSM does not know.
fn region() -> (SsmRead, Vec<Resource>) {
    let mut read = SsmRead::default();
    read.managed.insert("i-linux".into(), managed("Ubuntu", "22.04"));
    read.managed.insert(
        "i-windows".into(),
        managed("Microsoft Windows Server 2022 Datacenter", "10.0"),
    );
    read.managed.insert("i-new".into(), managed("Ubuntu", "22.04"));
    read.applications.insert(
        "i-linux".into(),
        apps(&[("openssl", "3.0.2-0ubuntu1.10"), ("bash", "5.1-6ubuntu1")]),
    );
    read.applications
        .insert("i-windows".into(), apps(&[("Google Chrome", "120.0")]));
    let instances = ["i-linux", "i-windows", "i-new", "i-unmanaged"].map(instance).to_vec();
    (read, instances)
}

#[test]
fn managed_instances_get_their_ssm_status_and_the_others_none() {
    let (read, mut instances) = region();
    annotate(&mut instances, &read);
    let ssm = |r: &Resource| match &r.details {
        Some(Details::Ec2Instance(d)) => d.ssm.clone(),
        _ => None,
    };
    let linux = ssm(&instances[0]).unwrap();
    assert_eq!(
        (
            linux.ping_status.as_str(),
            linux.platform_name.as_str(),
            linux.platform_version.as_str()
        ),
        ("Online", "Ubuntu", "22.04")
    );
    assert!(ssm(&instances[1]).is_some());
    assert!(ssm(&instances[3]).is_none());
}

#[test]
fn only_managed_linux_instances_with_packages_get_a_report_named_by_their_inventory() {
    let (read, instances) = region();
    let reports = reports(&read, &instances);
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert_eq!(r.resource_id, "i-linux");
    assert_eq!(r.source(), InventorySource::Ssm);
    assert_eq!(r.resource_type(), ResourceType::AwsEc2Instance);
    assert_eq!(
        (r.account_id.as_str(), r.region.as_str()),
        ("111111111111", "eu-west-1")
    );
    assert_eq!(r.hostname, "ip-10-0-0-1.eu-west-1.compute.internal");
    assert_eq!(r.agent_version, "amazon-ssm-agent/3.3.40.0");
    assert_eq!(r.collected_at.unwrap().seconds, 1_795_168_800);
    // The digest and bytes are those the API edge computes for the same inventory, so the
    // state machine stores what an agent's report of the same packages would give.
    let inv = argus_worker::observe::decode_inventory(&r.inventory).unwrap();
    assert_eq!(
        inv.os.as_ref().unwrap().ecosystem.as_ref().unwrap().as_str(),
        "Ubuntu:22.04"
    );
    assert_eq!(inv.packages.len(), 2);
    assert_eq!(
        argus_worker::observe::host_artifact(inv),
        (r.artifact_digest.clone(), r.inventory.clone())
    );
    // The same packages in another order give the same artifact.
    let mut shuffled = read.clone();
    shuffled.applications.get_mut("i-linux").unwrap().entries.reverse();
    assert_eq!(reports_of(&shuffled, &instances), vec![r.artifact_digest.clone()]);
}

fn reports_of(read: &SsmRead, instances: &[Resource]) -> Vec<String> {
    reports(read, instances)
        .into_iter()
        .map(|r| r.artifact_digest)
        .collect()
}

#[test]
fn a_report_is_proposed_only_when_it_changes_what_is_stored_or_is_due_for_a_refresh() {
    let (read, instances) = region();
    let report = reports(&read, &instances).remove(0);
    let at = |seconds: i64| prost_types::Timestamp { seconds, nanos: 0 };
    let agent = |source: InventorySource, digest: &str, reported: i64| Resource {
        artifact_digest: digest.into(),
        agent: Some(AgentReport {
            source: source as i32,
            reported_at: Some(at(reported)),
            ..Default::default()
        }),
        ..instance("i-linux")
    };
    let refresh = at(1000);
    assert!(needed(None, &report, &refresh));
    assert!(
        needed(Some(&instance("i-linux")), &report, &refresh),
        "unmanaged until now"
    );
    let digest = report.artifact_digest.clone();
    assert!(!needed(
        Some(&agent(InventorySource::Ssm, &digest, 2000)),
        &report,
        &refresh
    ));
    assert!(
        needed(Some(&agent(InventorySource::Ssm, &digest, 999)), &report, &refresh),
        "refresh"
    );
    assert!(needed(
        Some(&agent(InventorySource::Ssm, "sha256:older", 2000)),
        &report,
        &refresh
    ));
    assert!(
        !needed(
            Some(&agent(InventorySource::Agent, "sha256:older", 0)),
            &report,
            &refresh
        ),
        "the agent wins"
    );
    assert!(!needed(
        Some(&agent(InventorySource::Unspecified, "sha256:older", 0)),
        &report,
        &refresh
    ));
}
