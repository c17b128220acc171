//! The next deadline of every router, in order: the protocol loop sleeps until the first
//! one and wakes only the routers that are due, without asking every router after every
//! packet. (Asking all of them was a tenth of a backup's CPU at 100 instances × 10 ms.)
//!
//! The loop keeps the index exact in two ways: after the common events that touch one
//! router only (an advert to a backup, a timer of a router outside any sync group that
//! did not change state), it updates that router's entry; after anything else it marks
//! the whole index stale, and the next [`Deadlines::first`] rebuilds it from the routers.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Deadlines {
    order: BTreeSet<(Duration, String)>,
    of: HashMap<String, Duration>,
    stale: bool,
}

impl Deadlines {
    /// An index to be built from the routers before its first use.
    pub fn new() -> Deadlines {
        Deadlines {
            stale: true,
            ..Deadlines::default()
        }
    }

    /// Some router may have changed in a way the index was not told of.
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// `name`'s next deadline is now `at` (none: it has nothing scheduled, or is gone).
    pub fn set(&mut self, name: &str, at: Option<Duration>) {
        if let Some(old) = self.of.remove(name) {
            self.order.remove(&(old, name.to_string()));
        }
        if let Some(at) = at {
            self.of.insert(name.to_string(), at);
            self.order.insert((at, name.to_string()));
        }
    }

    /// The earliest deadline; `deadlines` gives every router's when the index is stale.
    pub fn first<'a>(
        &mut self,
        deadlines: impl FnOnce() -> Vec<(&'a String, Option<Duration>)>,
    ) -> Option<Duration> {
        if self.stale {
            self.order.clear();
            self.of.clear();
            for (name, at) in deadlines() {
                self.set(name, at);
            }
            self.stale = false;
        }
        self.order.first().map(|(at, _)| *at)
    }

    /// Test builds: after a loop pass that reported the index as kept, compare it with
    /// every router's own deadline. A difference is remembered for the harness, which
    /// fails the scenario ([`take_mismatch`]); a panic here would only end the daemon's
    /// task. Every harness scenario checks the index this way.
    #[cfg(test)]
    pub fn check_exact<'a>(&self, real: impl Iterator<Item = (&'a String, Option<Duration>)>) {
        if self.stale {
            return;
        }
        let mut want: Vec<(Duration, String)> = real
            .filter_map(|(name, at)| Some((at?, name.clone())))
            .collect();
        want.sort();
        let have: Vec<(Duration, String)> = self.order.iter().cloned().collect();
        if have != want {
            MISMATCH.with(|m| {
                m.borrow_mut()
                    .get_or_insert_with(|| format!("index {have:?}, routers {want:?}"));
            });
        }
    }

    /// The routers whose deadline is at or before `now`, earliest first.
    pub fn due(&self, now: Duration) -> Vec<String> {
        self.due_names(now).map(str::to_owned).collect()
    }

    /// The names of [`due`](Self::due), borrowed.
    pub fn due_names(&self, now: Duration) -> impl Iterator<Item = &str> {
        self.order
            .iter()
            .take_while(move |(at, _)| *at <= now)
            .map(|(_, name)| name.as_str())
    }
}

#[cfg(test)]
thread_local! {
    /// The first difference [`Deadlines::check_exact`] found on this thread (the harness
    /// runs a scenario's daemons on the test's thread).
    static MISMATCH: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Take the difference the index checks found on this thread, if any.
#[cfg(test)]
pub fn take_mismatch() -> Option<String> {
    MISMATCH.with(|m| m.borrow_mut().take())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_stale_index_is_rebuilt_from_the_routers_and_then_kept_by_updates() {
        let (a, b, c) = ("a".to_string(), "b".to_string(), "c".to_string());
        let mut index = Deadlines::new();
        let all = || vec![(&a, Some(ms(30))), (&b, Some(ms(10))), (&c, None)];
        assert_eq!(index.first(all), Some(ms(10)));
        // Not stale: the routers are not asked again.
        assert_eq!(
            index.first(|| panic!("rebuilt a fresh index")),
            Some(ms(10))
        );
        assert_eq!(index.due(ms(30)), names(&["b", "a"]));
        assert_eq!(index.due(ms(9)), Vec::<String>::new());

        // b moves later, c gets one earlier than all, a has none any more.
        index.set("b", Some(ms(40)));
        index.set("c", Some(ms(5)));
        index.set("a", None);
        assert_eq!(index.first(|| panic!("rebuilt a fresh index")), Some(ms(5)));
        assert_eq!(index.due(ms(100)), names(&["c", "b"]));

        // Marked stale, it forgets what it was told and takes the routers' word.
        index.mark_stale();
        assert_eq!(index.first(|| vec![(&a, Some(ms(7)))]), Some(ms(7)));
        assert_eq!(index.due(ms(100)), names(&["a"]));
    }

    #[test]
    fn the_test_check_reports_an_index_that_differs_from_the_routers() {
        let (a, b) = ("a".to_string(), "b".to_string());
        let mut index = Deadlines::new();
        index.first(|| vec![(&a, Some(ms(10))), (&b, None)]);
        index.check_exact([(&a, Some(ms(10))), (&b, None)].into_iter());
        assert_eq!(take_mismatch(), None);
        // b got a deadline the index was not told of.
        index.check_exact([(&a, Some(ms(10))), (&b, Some(ms(5)))].into_iter());
        let found = take_mismatch().expect("a difference");
        assert!(found.contains("5ms"), "{found}");
        // Stale, it is not judged: it will be rebuilt.
        index.mark_stale();
        index.check_exact([(&a, None)].into_iter());
        assert_eq!(take_mismatch(), None);
    }

    #[test]
    fn routers_due_at_the_same_time_are_all_due() {
        let (a, b) = ("a".to_string(), "b".to_string());
        let mut index = Deadlines::new();
        assert_eq!(
            index.first(|| vec![(&a, Some(ms(10))), (&b, Some(ms(10)))]),
            Some(ms(10))
        );
        assert_eq!(index.due(ms(10)), names(&["a", "b"]));
        index.set("a", None);
        index.set("b", None);
        assert_eq!(index.first(|| panic!("rebuilt a fresh index")), None);
    }
}
