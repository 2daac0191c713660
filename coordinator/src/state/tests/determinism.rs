//! Determinism and idempotence over random command sequences, and a throughput report.

use std::time::Instant;

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::{CompactChangeLog, SetCoverage};
use argus_proto::v1::ChangeKind;
use argus_proto::v1::{
    Coverage, CoverageReason, CoverageStatus, DeleteSuppressionRuleRequest, FindingFilter, ScanOutcome, Severity,
};
use proptest::prelude::*;

use super::*;

#[derive(Clone, Debug)]
enum Op {
    /// (resource, account, digest — 0 is none, tag variant)
    Put(Vec<(u8, u8, u8, u8)>),
    Remove(Vec<u8>),
    /// (digest, scanned_at, failed, vulnerabilities as (vuln, package, severity))
    Scan(Vec<(u8, u8, bool, Vec<(u8, u8, u8)>)>),
    Rule(u8, u8),
    DeleteRule(u8),
    Compact(u8, u8),
    Coverage(u8),
    /// (account, observed_at, instances as (resource, exposures as (ports, udp, group),
    /// unknown), partial)
    Network(u8, u8, Vec<(u8, Vec<(u8, bool, u8)>, bool)>, bool),
}

/// Port ranges network exposures are drawn from.
const PORTS: &[(u32, u32)] = &[(22, 22), (80, 80), (443, 443), (1000, 2000)];

fn op() -> impl Strategy<Value = Op> {
    let vulns = proptest::collection::vec((0..6u8, 0..3u8, 1..6u8), 0..6);
    prop_oneof![
        3 => proptest::collection::vec((0..8u8, 0..3u8, 0..4u8, 0..3u8), 1..5).prop_map(Op::Put),
        1 => proptest::collection::vec(0..8u8, 1..3).prop_map(Op::Remove),
        4 => proptest::collection::vec((1..4u8, 0..20u8, proptest::bool::weighted(0.15), vulns), 1..4)
            .prop_map(Op::Scan),
        1 => (0..3u8, 0..6u8).prop_map(|(n, v)| Op::Rule(n, v)),
        1 => (0..3u8).prop_map(Op::DeleteRule),
        1 => (0..40u8, 0..10u8).prop_map(|(b, k)| Op::Compact(b, k)),
        1 => (1..4u8).prop_map(Op::Coverage),
        2 => (
            0..3u8,
            0..20u8,
            proptest::collection::vec(
                (
                    0..8u8,
                    proptest::collection::vec((0..4u8, proptest::bool::ANY, 0..2u8), 0..3),
                    proptest::bool::weighted(0.2),
                ),
                0..4,
            ),
            proptest::bool::weighted(0.3),
        )
            .prop_map(|(a, at, instances, partial)| Op::Network(a, at, instances, partial)),
    ]
}

fn command(op: &Op) -> Cmd {
    match op {
        Op::Put(rs) => {
            let mut seen = std::collections::BTreeSet::new();
            let resources = rs
                .iter()
                .filter(|r| seen.insert(r.0))
                .map(|&(r, a, d, t)| {
                    let digest = if d == 0 { String::new() } else { digest(d.into()) };
                    // Half the resources are EC2 instances, which network analyses concern.
                    let mut res = if r >= 4 {
                        instance(&format!("res-{r}"), &format!("acct-{a}"), &digest)
                    } else {
                        image(&format!("res-{r}"), &format!("acct-{a}"), &digest)
                    };
                    for i in 0..t {
                        res.tags.insert(format!("k{i}"), format!("v{t}"));
                    }
                    res
                })
                .collect();
            put(resources)
        }
        Op::Remove(ids) => {
            let ids: std::collections::BTreeSet<String> = ids.iter().map(|r| format!("res-{r}")).collect();
            remove(&ids.iter().map(String::as_str).collect::<Vec<_>>())
        }
        Op::Scan(results) => ingest(
            results
                .iter()
                .map(|(d, at, failed, vulns)| {
                    let mut r = result(
                        &digest((*d).into()),
                        (*at).into(),
                        vulns
                            .iter()
                            .map(|&(v, p, s)| {
                                let mut o = vuln(&format!("CVE-{v}"), &format!("pkg{p}"));
                                o.severity = s.into();
                                o
                            })
                            .collect(),
                    );
                    if *failed {
                        r.outcome = ScanOutcome::Failed as i32;
                        r.error = "boom".into();
                    }
                    r
                })
                .collect(),
        ),
        Op::Rule(n, v) => rule(
            &format!("rule-{n}"),
            FindingFilter {
                vulnerability_id: vec![argus_proto::v1::StringFilter {
                    comparison: 1,
                    value: format!("CVE-{v}"),
                }],
                severity: if n % 2 == 0 {
                    vec![]
                } else {
                    vec![Severity::High as i32, Severity::Critical as i32]
                },
                ..Default::default()
            },
        ),
        Op::DeleteRule(n) => Cmd::DeleteSuppressionRule(DeleteSuppressionRuleRequest {
            name: format!("rule-{n}"),
        }),
        Op::Compact(before, keep) => Cmd::CompactChangeLog(CompactChangeLog {
            before: Some(ts(1000 + i64::from(*before))),
            keep_last: (*keep).into(),
        }),
        Op::Network(a, at, instances, partial) => {
            let mut seen = std::collections::BTreeSet::new();
            let unknown: Vec<String> = instances
                .iter()
                .filter(|(r, _, unknown)| *unknown && seen.insert(*r))
                .map(|(r, _, _)| format!("res-{r}"))
                .collect();
            let listed: Vec<(String, Vec<argus_proto::v1::NetworkReachabilityDetails>)> = instances
                .iter()
                .filter(|(r, _, _)| seen.insert(*r))
                .map(|(r, ports, _)| {
                    let mut taken = std::collections::BTreeSet::new();
                    let exposures = ports
                        .iter()
                        .filter(|(p, udp, _)| taken.insert((*p, *udp)))
                        .map(|&(p, udp, g)| {
                            let protocol = if udp {
                                argus_proto::v1::NetworkProtocol::Udp
                            } else {
                                argus_proto::v1::NetworkProtocol::Tcp
                            };
                            let (begin, end) = PORTS[usize::from(p)];
                            open_ports(protocol, begin, end, &format!("sg-{g}"))
                        })
                        .collect();
                    (format!("res-{r}"), exposures)
                })
                .collect();
            let mut cmd = exposures(
                &format!("acct-{a}"),
                i64::from(*at),
                listed.iter().map(|(id, e)| (id.as_str(), e.clone())).collect(),
            );
            if let Cmd::SetNetworkExposures(r) = &mut cmd {
                r.unknown_instance_ids = unknown;
                r.partial = *partial;
            }
            cmd
        }
        Op::Coverage(d) => Cmd::SetCoverage(SetCoverage {
            artifact_digest: digest((*d).into()),
            coverage: Some(Coverage {
                status: CoverageStatus::CoverageActive as i32,
                reason: CoverageReason::ScanInProgress as i32,
                ..Default::default()
            }),
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Two replicas applying the same log hold byte-identical column families and identical
    /// change logs, whatever the commands and however they are grouped into proposals.
    #[test]
    fn replicas_applying_the_same_proposals_are_byte_identical(
        proposals in proptest::collection::vec(proptest::collection::vec(op(), 1..4), 1..25)
    ) {
        let (a, b) = (open(), open());
        for (i, ops) in proposals.iter().enumerate() {
            let commands = || ops.iter().map(command).collect::<Vec<_>>();
            let ra = a.propose(1000 + i as i64, commands());
            let rb = b.propose(1000 + i as i64, commands());
            prop_assert_eq!(ra, rb);
        }
        prop_assert_eq!(a.changes(), b.changes());
        prop_assert!(a.dump() == b.dump(), "column families differ");
    }

    /// Applying any single command a second time changes nothing at all.
    #[test]
    fn applying_a_command_twice_changes_nothing(ops in proptest::collection::vec(op(), 1..30)) {
        let f = open();
        for (i, op) in ops.iter().enumerate() {
            let now = 1000 + i as i64;
            f.propose(now, vec![command(op)]);
            let once = f.dump();
            f.propose(now, vec![command(op)]);
            prop_assert!(f.dump() == once, "re-applying {:?} changed the state", op);
        }
    }

    /// The finding totals the metrics read equal a recount over the stored findings, and the
    /// change counts equal the change log's, whatever happened to the findings.
    #[test]
    fn finding_totals_always_equal_a_recount(ops in proptest::collection::vec(op(), 1..30)) {
        let f = open();
        for (i, op) in ops.iter().enumerate() {
            if !matches!(op, Op::Compact(..)) {
                f.propose(1000 + i as i64, vec![command(op)]);
            }
        }
        let mut recount = crate::state::FindingTotals::default();
        let view = crate::state::view::View::new(&f.state.db);
        for item in view.iter_from(crate::state::keys::FINDINGS, b"") {
            let (_, value) = item.unwrap();
            let finding: Finding = crate::state::records::decode(crate::state::keys::FINDINGS, &value).unwrap();
            recount.moved(None, crate::state::Tally::of(&finding));
        }
        for change in f.changes() {
            recount.changed(ChangeKind::try_from(change.kind).unwrap());
        }
        prop_assert_eq!(f.state.finding_totals().unwrap(), recount);
    }

    /// Cursors are 1, 2, 3, ... in apply order with nothing skipped (before compaction).
    #[test]
    fn change_cursors_are_dense_and_ordered(ops in proptest::collection::vec(op(), 1..30)) {
        let f = open();
        for (i, op) in ops.iter().enumerate() {
            if !matches!(op, Op::Compact(..)) {
                f.propose(1000 + i as i64, vec![command(op)]);
            }
        }
        let cursors: Vec<u64> = f.changes().iter().map(|c| c.cursor).collect();
        prop_assert_eq!(cursors.clone(), (1..=cursors.len() as u64).collect::<Vec<_>>());
        prop_assert_eq!(*f.state.watch_cursor().borrow(), cursors.len() as u64);
    }
}

/// Not an assertion: reports how fast this build applies scan results (500 results × 40
/// findings, group-committed 50 results per proposal, then the same again as a refresh).
#[test]
fn report_ingest_throughput() {
    let f = open();
    let resources: Vec<_> = (0..500)
        .map(|i| image(&format!("img-{i}"), "123456789012", &digest(i)))
        .collect();
    f.run(1, put(resources));
    let batch = |scanned_at: i64, chunk: u64| {
        (chunk * 50..chunk * 50 + 50)
            .map(|d| {
                result(
                    &digest(d),
                    scanned_at,
                    (0..40)
                        .map(|v| vuln(&format!("CVE-2024-{v:05}"), &format!("pkg{}", v % 13)))
                        .collect(),
                )
            })
            .collect::<Vec<_>>()
    };
    for (label, scanned_at) in [("new findings", 100), ("refreshed findings", 200)] {
        let start = Instant::now();
        for chunk in 0..10 {
            f.run(10 + scanned_at, ingest(batch(scanned_at, chunk)));
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "ingest throughput ({label}): 20000 findings in {secs:.2}s = {:.0} findings/s",
            20000.0 / secs
        );
    }
    assert_eq!(f.changes().len(), 20000);
}
