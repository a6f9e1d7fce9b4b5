//! Native objects counted by id, for leak checks: the registry holds only
//! weak references, the JS object the strong one, so an entry that outlives
//! its JS object shows a leak.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};

pub struct Registry<T> {
    next: AtomicU32,
    items: LazyLock<Mutex<HashMap<u32, Weak<T>>>>,
}

impl<T> Registry<T> {
    pub const fn new() -> Self {
        Registry { next: AtomicU32::new(1), items: LazyLock::new(Default::default) }
    }

    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Weak<T>>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert(&self, item: &Arc<T>) -> u32 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.items().insert(id, Arc::downgrade(item));
        id
    }

    pub fn remove(&self, id: u32) {
        self.items().remove(&id);
    }

    /// How many objects are registered: those whose JS object is alive.
    pub fn len(&self) -> usize {
        self.items().len()
    }
}
