//! MITRE ATT&CK technique -> tactic mapping.
//!
//! ESCU annotates detections with technique ids only (`T1218.007`); ES enriches risk events
//! with the tactics (`annotations.mitre_attack.mitre_tactic`), which the "ATT&CK Tactic
//! Threshold Exceeded" incident rule counts. The table in `data/attack_tactics.csv` was
//! generated from ATT&CK Enterprise v18.1 (see its header); a sub-technique missing from it
//! inherits its parent's tactics.

use std::collections::HashMap;
use std::sync::OnceLock;

static TABLE: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();

fn table() -> &'static HashMap<&'static str, Vec<&'static str>> {
    TABLE.get_or_init(|| {
        let text = include_str!("../data/attack_tactics.csv");
        let mut map = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("technique_id") {
                continue;
            }
            if let Some((id, tactics)) = line.split_once(',') {
                map.insert(id.trim(), tactics.split(';').map(str::trim).filter(|t| !t.is_empty()).collect());
            }
        }
        map
    })
}

/// Tactic short names (`defense-evasion`) of one technique id; empty when unknown.
pub fn tactics_of(technique: &str) -> Vec<&'static str> {
    let id = technique.trim().to_ascii_uppercase();
    if let Some(t) = table().get(id.as_str()) {
        return t.clone();
    }
    match id.split_once('.') {
        Some((parent, _)) => table().get(parent).cloned().unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Distinct tactics of a list of techniques, in first-seen order.
/// The tactic id (`TA0005`) of a tactic short name (`defense-evasion`).
pub fn tactic_id(tactic: &str) -> Option<&'static str> {
    static IDS: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    let ids = IDS.get_or_init(|| {
        include_str!("../data/attack_tactic_ids.csv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("tactic,"))
            .filter_map(|l| l.split_once(','))
            .map(|(name, id)| (name.trim(), id.trim()))
            .collect()
    });
    ids.get(tactic.trim().to_ascii_lowercase().as_str()).copied()
}

pub fn tactics_for(techniques: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in techniques {
        for tac in tactics_of(t) {
            if !out.iter().any(|o| o == tac) {
                out.push(tac.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_technique_is_defense_evasion() {
        assert_eq!(tactics_of("T1218.007"), ["defense-evasion"]);
    }

    #[test]
    fn unknown_subtechnique_inherits_parent() {
        assert_eq!(tactics_of("T1218.999"), ["defense-evasion"]);
        assert!(tactics_of("T9999").is_empty());
    }

    #[test]
    fn several_tactics_dedup() {
        // T1078 Valid Accounts spans four tactics.
        let t = tactics_for(&["T1078".into(), "T1078.002".into()]);
        assert!(t.contains(&"persistence".to_string()) && t.contains(&"initial-access".to_string()));
        assert_eq!(t.len(), tactics_of("T1078").len());
    }
}
