//! How instances on one database spread the mailboxes among them: each decides on its own,
//! from the leases and the live instances it reads, which mailboxes to take and which to give
//! up. The database's compare-and-set on each lease makes the decisions safe when two
//! instances act at once; this part only makes them converge.
//!
//! An instance holds at most its share, `ceil(mailboxes / live instances)`, and one more only
//! while a mailbox is free and every other live instance already holds its share. Above that
//! it gives up its surplus, which the others then take.

use std::collections::{BTreeMap, BTreeSet};

/// Who holds a mailbox's lease, as read from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub holder: String,
    /// The lease ran out (Unix seconds passed), or the holder is known to be gone.
    pub expired: bool,
}

/// What one instance should do now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Free mailboxes to take (a compare-and-set each: another instance may win).
    pub take: Vec<String>,
    /// Mailboxes of ours to give up (once their intake is at a safe point).
    pub give_up: Vec<String>,
    /// Mailboxes of ours to keep (and renew).
    pub keep: Vec<String>,
}

/// What instance `me` should do, given every mailbox served (`mailboxes`), who holds which
/// (`leases`; absent: nobody), and the instances alive (`live`, `me` among them).
pub fn plan(me: &str, mailboxes: &BTreeSet<String>, leases: &BTreeMap<String, Holding>, live: &BTreeSet<String>) -> Plan {
    let instances = (live.len() + usize::from(!live.contains(me))).max(1);
    let share = mailboxes.len().div_ceil(instances);
    let mut held_by: BTreeMap<&str, usize> = live.iter().map(|i| (i.as_str(), 0)).collect();
    let mut mine = Vec::new();
    let mut free = Vec::new();
    for mailbox in mailboxes {
        match leases.get(mailbox) {
            Some(h) if !h.expired && (h.holder == me || live.contains(&h.holder)) => {
                *held_by.entry(h.holder.as_str()).or_default() += 1;
                if h.holder == me {
                    mine.push(mailbox.clone());
                }
            }
            _ => free.push(mailbox.clone()),
        }
    }
    // Instances that would take over in turn start at different free mailboxes, so that two
    // starting at once do not race for the same one first.
    if !free.is_empty() {
        let start = me.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)) % free.len();
        free.rotate_left(start);
    }
    let others_have_room = held_by.iter().any(|(i, n)| *i != me && *n < share);
    let mut plan = Plan::default();
    if mine.len() > share {
        // The surplus goes when someone can take it; the last ones taken go first.
        let keep = if others_have_room { share } else { (share + 1).min(mine.len()) };
        plan.give_up = mine.split_off(keep);
        plan.keep = mine;
        return plan;
    }
    let room = if others_have_room { share - mine.len() } else { share + 1 - mine.len() };
    plan.take = free.into_iter().take(room).collect();
    plan.keep = mine;
    plan
}

/// A dead instance's mails handed to the SMTP server and not recorded as sent, each as (outbox
/// id, sender slot, sequence number): which were surely accepted, and which may or may not
/// have been. A slot hands a mail only after the one before it was accepted (a refusal or a
/// failure clears the record), so all but the last of each slot were accepted; the last one
/// nobody can know about, and it is sent again (at most one per slot).
pub fn settle_handed(handed: &[(i64, String, i64)]) -> (Vec<i64>, Vec<i64>) {
    let mut last: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (id, slot, seq) in handed {
        let entry = last.entry(slot.as_str()).or_insert((*seq, *id));
        if *seq > entry.0 {
            *entry = (*seq, *id);
        }
    }
    let unknown: BTreeSet<i64> = last.values().map(|(_, id)| *id).collect();
    let accepted = handed.iter().map(|(id, _, _)| *id).filter(|id| !unknown.contains(id)).collect();
    (accepted, unknown.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// N instances acting in turn on one lease table, with the database's compare-and-set:
    /// a take succeeds only on a free lease.
    struct World {
        mailboxes: BTreeSet<String>,
        leases: BTreeMap<String, Holding>,
        live: BTreeSet<String>,
    }

    impl World {
        fn new(n: usize, m: usize) -> World {
            World {
                mailboxes: (0..m).map(|i| format!("box-{i:02}")).collect(),
                leases: BTreeMap::new(),
                live: (0..n).map(|i| format!("host-{i}:100{i}:0")).collect(),
            }
        }

        /// One round: every live instance reads, decides and acts, in `order`.
        fn round(&mut self, order: &[String]) {
            for me in order.iter().filter(|i| self.live.contains(*i)) {
                let plan = plan(me, &self.mailboxes, &self.leases, &self.live);
                for mailbox in plan.give_up {
                    self.leases.remove(&mailbox);
                }
                for mailbox in plan.take {
                    let free = match self.leases.get(&mailbox) {
                        None => true,
                        Some(h) => h.expired || !self.live.contains(&h.holder),
                    };
                    if free {
                        self.leases.insert(mailbox, Holding { holder: me.clone(), expired: false });
                    }
                }
            }
        }

        fn counts(&self) -> BTreeMap<String, usize> {
            let mut counts: BTreeMap<String, usize> = self.live.iter().map(|i| (i.clone(), 0)).collect();
            for h in self.leases.values() {
                *counts.entry(h.holder.clone()).or_default() += 1;
            }
            counts
        }

        fn order(&self, seed: usize) -> Vec<String> {
            let mut order: Vec<String> = self.live.iter().cloned().collect();
            let len = order.len();
            order.rotate_left(seed % len.max(1));
            if seed % 2 == 1 {
                order.reverse();
            }
            order
        }

        fn assert_spread(&self, what: &str) {
            let counts = self.counts();
            let share = self.mailboxes.len().div_ceil(self.live.len());
            assert_eq!(self.leases.len(), self.mailboxes.len(), "{what}: every mailbox held: {counts:?}");
            for h in self.leases.values() {
                assert!(self.live.contains(&h.holder), "{what}: held by a dead instance: {counts:?}");
            }
            for (i, n) in &counts {
                assert!(*n <= share, "{what}: {i} holds {n}, share {share}: {counts:?}");
            }
        }
    }

    #[test]
    fn n_instances_and_m_mailboxes_converge_to_their_shares() {
        for n in 1..=4 {
            for m in [1, 2, 5, 6, 12, 13] {
                let mut w = World::new(n, m);
                for seed in 0..3 {
                    w.round(&w.order(seed));
                }
                w.assert_spread(&format!("{n} x {m}"));
                // Stable: another round changes nothing.
                let before = w.leases.clone();
                w.round(&w.order(7));
                assert_eq!(before, w.leases, "{n} x {m}: stable once spread");
            }
        }
    }

    #[test]
    fn a_dead_instances_mailboxes_are_taken_over_in_one_round() {
        let mut w = World::new(3, 12);
        for seed in 0..3 {
            w.round(&w.order(seed));
        }
        let dead = w.live.iter().next().unwrap().clone();
        w.live.remove(&dead);
        w.round(&w.order(0));
        w.assert_spread("after one instance died");
        assert!(w.leases.values().all(|h| h.holder != dead));
    }

    #[test]
    fn a_new_instance_gets_its_share_from_the_others() {
        let mut w = World::new(2, 12);
        for seed in 0..2 {
            w.round(&w.order(seed));
        }
        assert!(w.counts().values().all(|n| *n == 6));
        w.live.insert("host-9:9:0".into());
        // The others give up their surplus in one round, the newcomer takes it in the next.
        for seed in 0..3 {
            w.round(&w.order(seed));
        }
        w.assert_spread("after a third instance joined");
        assert_eq!(w.counts()["host-9:9:0"], 4);
    }

    #[test]
    fn only_the_last_mail_of_each_slot_is_unknown() {
        let handed = vec![(1, "a#0".to_string(), 10), (2, "a#1".to_string(), 11), (3, "a#0".to_string(), 12), (4, "a#0".to_string(), 13)];
        let (accepted, unknown) = settle_handed(&handed);
        assert_eq!(accepted, vec![1, 3]);
        assert_eq!(unknown, vec![2, 4]);
        assert_eq!(settle_handed(&[]), (vec![], vec![]));
    }

    #[test]
    fn one_more_than_the_share_only_while_nobody_else_has_room() {
        let mailboxes: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let live: BTreeSet<String> = ["x", "y"].iter().map(|s| s.to_string()).collect();
        let held = |h: &str| Holding { holder: h.into(), expired: false };
        // Share 2; y holds its share, so x takes the free one.
        let leases: BTreeMap<String, Holding> = [("a".to_string(), held("y")), ("b".to_string(), held("y"))].into();
        assert_eq!(plan("x", &mailboxes, &leases, &live).take, vec!["c".to_string()]);
        // x holds 3 while y holds none: x gives up down to its share.
        let leases: BTreeMap<String, Holding> = mailboxes.iter().map(|m| (m.clone(), held("x"))).collect();
        let p = plan("x", &mailboxes, &leases, &live);
        assert_eq!(p.give_up.len(), 1);
        assert_eq!(p.keep.len(), 2);
        // A lease that ran out is free, also one of a holder no longer alive.
        let leases: BTreeMap<String, Holding> =
            [("a".to_string(), Holding { holder: "y".into(), expired: true }), ("b".to_string(), held("z")), ("c".to_string(), held("y"))].into();
        let mut take = plan("x", &mailboxes, &leases, &live).take;
        take.sort();
        assert_eq!(take, vec!["a".to_string(), "b".to_string()]);
    }
}
