//! Recurring incidents: DORA (Del. Reg. (EU) 2024/1772 Art. 8(2)) treats
//! incidents that are not major on their own as one major incident when
//! they occurred at least twice within six months with the same apparent
//! root cause and together meet the criteria. This finds the groups; the
//! joint assessment is the classification of their summed answers.

use jiff::{Timestamp, ToSpan, tz::TimeZone};

/// One incident as the recurrence check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence<Id> {
    /// The incident.
    pub id: Id,
    /// Its root-cause category (e.g. `certificate-expiry`).
    pub root_cause: String,
    /// When it was detected.
    pub detected_at: Timestamp,
}

/// Groups of two or more incidents with the same root-cause category
/// whose detections lie within six calendar months (in `tz`) of the
/// group's first. Each group is ordered by detection; an incident belongs
/// to at most one group per category (the earliest that takes it).
pub fn recurring<Id: Clone>(occurrences: &[Occurrence<Id>], tz: &TimeZone) -> Vec<Vec<Occurrence<Id>>> {
    let mut sorted: Vec<&Occurrence<Id>> = occurrences.iter().filter(|o| !o.root_cause.trim().is_empty()).collect();
    sorted.sort_by(|a, b| a.root_cause.cmp(&b.root_cause).then(a.detected_at.cmp(&b.detected_at)));
    let mut groups = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let first = sorted[i];
        let window_end = first
            .detected_at
            .to_zoned(tz.clone())
            .checked_add(6.months())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX);
        let mut j = i + 1;
        while j < sorted.len() && sorted[j].root_cause == first.root_cause && sorted[j].detected_at <= window_end {
            j += 1;
        }
        if j - i >= 2 {
            groups.push(sorted[i..j].iter().map(|o| (*o).clone()).collect());
            i = j;
        } else {
            i += 1;
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(id: u32, cause: &str, at: &str) -> Occurrence<u32> {
        Occurrence { id, root_cause: cause.into(), detected_at: at.parse().unwrap() }
    }

    #[test]
    fn same_cause_within_six_months_recurs() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let list = [
            occ(1, "cert-expiry", "2026-01-10T10:00:00Z"),
            occ(2, "disk-full", "2026-02-01T10:00:00Z"),
            occ(3, "cert-expiry", "2026-07-10T08:00:00Z"),
            occ(4, "cert-expiry", "2027-03-01T10:00:00Z"),
            occ(5, "", "2026-01-11T10:00:00Z"),
            occ(6, "", "2026-01-12T10:00:00Z"),
        ];
        let groups = recurring(&list, &tz);
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].iter().map(|o| o.id).collect::<Vec<_>>(), vec![1, 3], "six months to the day, in Berlin");
        let later = [occ(1, "cert-expiry", "2026-01-10T10:00:00Z"), occ(3, "cert-expiry", "2026-07-10T10:00:01Z")];
        assert!(recurring(&later, &tz).is_empty(), "one second past six months");
    }
}
