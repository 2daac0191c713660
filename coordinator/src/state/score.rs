//! Context scores: a package finding's score follows its resource's environment, as Inspector's
//! score does, and the finding lists what was adjusted.
//!
//! The rule: a PACKAGE_VULNERABILITY finding on an EC2 instance that the latest network
//! analysis found unreachable from the internet (no open port at all), whose CVSS vector says
//! the attack comes over the network (`AV:N`) and does not set a modified attack vector itself,
//! is scored with the environmental metric `MAV:A` (Adjacent): the attacker must already be on
//! a network the instance shares (its VPC, a peered network, a VPN), which is what an instance
//! with no internet path still allows. The score is the CVSS environmental score of the base
//! metrics plus `MAV:A` (v3.0/v3.1: section 7.3 of the specification; v4.0: the vector's score
//! with `MAV:A` added), applied only when lower than the base score. The severity follows the
//! new score's band. An instance never analysed, or exposed on any port, keeps its base scores:
//! a score is lowered only on evidence.
//!
//! Everything here is a pure function of the finding and the exposure state, so every replica
//! computes the same scores.

use argus_proto::v1::{Finding, FindingType, ResourceType, ScoreAdjustment, Severity};
use argus_worker::score::cvss::{self, CvssVersion};

/// What the state machine knows about an instance's reachability from the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// Not an EC2 instance, or not (or no longer) in an analysed account and region.
    Unknown,
    /// Analysed: no port is open to the internet.
    Unreachable,
    /// Analysed: at least one port is open to the internet.
    Reachable,
}

pub(super) const NOT_REACHABLE: &str = "no open network path from the internet to this instance \
     (network reachability analysis): an attacker must already share a network with it";

const V3_BASE_METRICS: &[&str] = &["AV", "AC", "PR", "UI", "S", "C", "I", "A"];

/// Sets the score, severity and adjustments of a package finding from its base values for
/// `reach`. The base values are the observed ones the first time (a finding just built from a
/// scan), the stored `base_*` fields afterwards, so re-scoring never compounds.
pub(super) fn rescore(finding: &mut Finding, reach: Reach) {
    if finding.r#type != FindingType::PackageVulnerability as i32 {
        return;
    }
    if finding.base_severity != Severity::Unspecified as i32 {
        finding.score = finding.base_score;
        finding.severity = finding.base_severity;
    }
    finding.base_score = finding.score;
    finding.base_severity = finding.severity;
    finding.scoring_vector.clear();
    finding.adjustments.clear();
    let on_instance = finding
        .resource
        .as_ref()
        .is_some_and(|r| r.r#type == ResourceType::AwsEc2Instance as i32);
    if reach != Reach::Unreachable || !on_instance {
        return;
    }
    let Some((vector, score)) = adjacent(&finding.cvss_vector) else {
        return;
    };
    if score >= finding.base_score {
        return;
    }
    finding.score = score;
    finding.severity = band(score) as i32;
    finding.scoring_vector = vector;
    finding.adjustments = vec![ScoreAdjustment {
        metric: "MAV".into(),
        original_value: "N".into(),
        adjusted_value: "A".into(),
        reason: NOT_REACHABLE.into(),
    }];
}

/// The vector with `MAV:A` and its score, when the vector attacks over the network and does
/// not already modify the attack vector; `None` otherwise or when it cannot be scored.
fn adjacent(vector: &str) -> Option<(String, f64)> {
    let base = cvss::base_score(vector).ok()?;
    let mut parts = base.vector.split('/');
    let head = parts.next()?;
    let metrics: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once(':')).collect();
    if !metrics.contains(&("AV", "N")) || metrics.iter().any(|(m, _)| *m == "MAV") {
        return None;
    }
    // v3 findings carry the base score, so only base metrics take part; a v4.0 score already
    // counts every metric of the vector.
    let kept: Vec<String> = metrics
        .iter()
        .filter(|(m, _)| base.version == CvssVersion::V4_0 || V3_BASE_METRICS.contains(m))
        .map(|(m, v)| format!("{m}:{v}"))
        .collect();
    let scored = cvss::environmental_score(&format!("{head}/{}/MAV:A", kept.join("/"))).ok()?;
    Some((scored.vector, scored.score))
}

fn band(score: f64) -> Severity {
    match cvss::Severity::from_score(score) {
        cvss::Severity::Critical => Severity::Critical,
        cvss::Severity::High => Severity::High,
        cvss::Severity::Medium => Severity::Medium,
        cvss::Severity::Low => Severity::Low,
        cvss::Severity::None => Severity::Untriaged,
    }
}

#[cfg(test)]
mod tests {
    use argus_proto::v1::Resource;

    use super::*;

    fn finding(vector: &str, score: f64, severity: Severity) -> Finding {
        Finding {
            r#type: FindingType::PackageVulnerability as i32,
            score,
            severity: severity as i32,
            cvss_vector: vector.into(),
            resource: Some(Resource {
                r#type: ResourceType::AwsEc2Instance as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    const CRITICAL_V31: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";

    #[test]
    fn a_network_vector_on_an_unreachable_instance_is_rescored_adjacent_and_says_why() {
        let mut f = finding(CRITICAL_V31, 9.8, Severity::Critical);
        rescore(&mut f, Reach::Unreachable);
        assert_eq!((f.score, f.severity()), (8.8, Severity::High));
        assert_eq!((f.base_score, f.base_severity()), (9.8, Severity::Critical));
        assert_eq!(f.scoring_vector, format!("{CRITICAL_V31}/MAV:A"));
        assert_eq!(f.adjustments.len(), 1);
        assert_eq!(
            (
                f.adjustments[0].metric.as_str(),
                f.adjustments[0].original_value.as_str(),
                f.adjustments[0].adjusted_value.as_str()
            ),
            ("MAV", "N", "A")
        );
        assert_eq!(f.cvss_vector, CRITICAL_V31, "the observed vector is kept");
    }

    #[test]
    fn rescoring_starts_from_the_base_each_time_and_never_compounds() {
        let mut f = finding(CRITICAL_V31, 9.8, Severity::Critical);
        rescore(&mut f, Reach::Unreachable);
        let once = f.clone();
        rescore(&mut f, Reach::Unreachable);
        assert_eq!(f, once);
        rescore(&mut f, Reach::Reachable);
        assert_eq!((f.score, f.severity()), (9.8, Severity::Critical));
        assert!(f.adjustments.is_empty() && f.scoring_vector.is_empty());
        rescore(&mut f, Reach::Unknown);
        assert_eq!((f.score, f.base_score), (9.8, 9.8));
    }

    #[test]
    fn only_unreachable_ec2_instances_with_network_vectors_are_adjusted() {
        for reach in [Reach::Unknown, Reach::Reachable] {
            let mut f = finding(CRITICAL_V31, 9.8, Severity::Critical);
            rescore(&mut f, reach);
            assert_eq!((f.score, f.adjustments.len()), (9.8, 0), "{reach:?}");
        }
        let mut image = finding(CRITICAL_V31, 9.8, Severity::Critical);
        image.resource.as_mut().unwrap().r#type = ResourceType::AwsEcrContainerImage as i32;
        rescore(&mut image, Reach::Unreachable);
        assert_eq!(image.score, 9.8);
        for vector in [
            "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/MAV:N",
            "",
            "not a vector",
        ] {
            let mut f = finding(vector, 7.0, Severity::High);
            rescore(&mut f, Reach::Unreachable);
            assert_eq!((f.score, f.adjustments.len()), (7.0, 0), "{vector:?}");
        }
        let mut network = Finding {
            r#type: FindingType::NetworkReachability as i32,
            ..finding(CRITICAL_V31, 0.0, Severity::Medium)
        };
        rescore(&mut network, Reach::Unreachable);
        assert_eq!(network.base_severity, 0, "reachability findings have no base score");
    }

    #[test]
    fn v3_temporal_metrics_do_not_take_part_and_v4_vectors_are_rescored_with_theirs() {
        let mut f = finding(&format!("{CRITICAL_V31}/E:U/RL:O"), 9.8, Severity::Critical);
        rescore(&mut f, Reach::Unreachable);
        assert_eq!(
            (f.score, f.scoring_vector.as_str()),
            (8.8, format!("{CRITICAL_V31}/MAV:A").as_str())
        );
        let v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
        let mut f = finding(v4, 9.3, Severity::Critical);
        rescore(&mut f, Reach::Unreachable);
        let expected = cvss::environmental_score(&format!("{v4}/MAV:A")).unwrap().score;
        assert!(expected < 9.3);
        assert_eq!(f.score, expected);
        assert_eq!(f.scoring_vector, format!("{v4}/MAV:A"));
    }

    #[test]
    fn a_vector_without_impact_is_not_adjusted() {
        let mut f = finding("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, Severity::Untriaged);
        rescore(&mut f, Reach::Unreachable);
        assert!(f.adjustments.is_empty());
    }
}
