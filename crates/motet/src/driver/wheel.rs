//! TEMPORARY stub with the wheel's API (replaced by the real wheel).
#![allow(dead_code)]
use std::collections::BTreeMap;
use std::task::Waker;
pub(crate) struct Wheel {
    map: BTreeMap<(u64, u64), Waker>,
    keys: std::collections::HashMap<u64, u64>,
    seq: u64,
    elapsed: u64,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey(u64);
impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel {
            map: BTreeMap::new(),
            keys: Default::default(),
            seq: 0,
            elapsed: 0,
        }
    }
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> TimerKey {
        self.seq += 1;
        self.map.insert((deadline, self.seq), waker);
        self.keys.insert(self.seq, deadline);
        TimerKey(self.seq)
    }
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) -> bool {
        match self.keys.get(&key.0) {
            Some(d) => {
                self.map.insert((*d, key.0), waker.clone());
                true
            }
            None => false,
        }
    }
    pub(crate) fn remove(&mut self, key: TimerKey) -> bool {
        match self.keys.remove(&key.0) {
            Some(d) => self.map.remove(&(d, key.0)).is_some(),
            None => false,
        }
    }
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        self.map.keys().next().map(|k| k.0)
    }
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Waker>) {
        self.elapsed = self.elapsed.max(now);
        while let Some(e) = self.map.first_entry() {
            if e.key().0 > now {
                break;
            }
            let ((_, s), w) = e.remove_entry();
            self.keys.remove(&s);
            fired.push(w);
        }
    }
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
