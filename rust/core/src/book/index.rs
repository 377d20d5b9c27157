//! The id index: which arena slot holds each resting order.
//!
//! A hash table of bare `u32` slots (hashbrown's `HashTable`): the order id is not stored
//! again, since the arena node at the slot already holds it; a lookup by id compares against
//! `arena[slot].id`. A bucket is then 4 bytes plus hashbrown's control byte instead of the
//! 16-byte `(id, slot)` entry of a map, so a book of ~40k orders keeps its whole index
//! (~320 KB) in a core's L2 cache instead of ~1.1 MB in L3 (`benches/README.md`, deep book).
//! The lookups the book makes most stay cheap:
//!
//! - a new id (every submission) is absent: the control bytes' 7-bit tags reject almost every
//!   bucket without reading the arena;
//! - removing a filled maker compares slots, not ids (the caller knows the slot): no arena read;
//! - a cancel by id reads the order's node, which the cancel reads next anyway.
//!
//! Invariant: every slot in the table holds a live node whose id hashes to the slot's bucket, so
//! a node must be written before its slot is inserted and its slot removed before the node is
//! reused.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use super::{Node, OrderId};

#[inline]
fn hash(id: OrderId) -> u64 {
    FxBuildHasher.hash_one(id)
}

#[derive(Clone, Debug, Default)]
pub(super) struct IdIndex {
    table: HashTable<u32>,
}

impl IdIndex {
    pub(super) fn try_reserve(
        &mut self,
        additional: usize,
        arena: &[Node],
    ) -> Result<(), hashbrown::TryReserveError> {
        self.table.try_reserve(additional, |&s| hash(arena[s as usize].id))
    }

    /// The slot of the resting order `id`.
    #[inline]
    pub(super) fn get(&self, id: OrderId, arena: &[Node]) -> Option<u32> {
        self.table.find(hash(id), |&s| arena[s as usize].id == id).copied()
    }

    #[inline]
    pub(super) fn contains(&self, id: OrderId, arena: &[Node]) -> bool {
        self.get(id, arena).is_some()
    }

    /// Index `slot`, whose node (already written) holds an id not in the index.
    #[inline]
    pub(super) fn insert(&mut self, slot: u32, arena: &[Node]) {
        let id = arena[slot as usize].id;
        self.table.insert_unique(hash(id), slot, |&s| hash(arena[s as usize].id));
    }

    /// Take `id` out of the index, returning its slot.
    #[inline]
    pub(super) fn remove(&mut self, id: OrderId, arena: &[Node]) -> Option<u32> {
        match self.table.find_entry(hash(id), |&s| arena[s as usize].id == id) {
            Ok(entry) => Some(entry.remove().0),
            Err(_) => None,
        }
    }

    /// Take out `slot`, which holds `id` (no arena read: slots are compared).
    #[inline]
    pub(super) fn remove_slot(&mut self, id: OrderId, slot: u32) {
        if let Ok(entry) = self.table.find_entry(hash(id), |&s| s == slot) {
            entry.remove();
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn capacity(&self) -> usize {
        self.table.capacity()
    }

    pub(super) fn clear(&mut self) {
        self.table.clear();
    }
}
