//! Native objects that async calls reach by number.
//!
//! napi-rs leaks a reference to a class instance whose `&self` a call hands
//! to an AsyncTask (napi-rs/napi-rs#2104), so a model used by fit or predict
//! would never be collected. The async entry points therefore take a plain
//! id; the registry holds only weak references, the JS object the strong one.

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

    /// The live object with this id.
    pub fn get(&self, id: u32, what: &str) -> ferro_core::Result<Arc<T>> {
        self.items()
            .get(&id)
            .and_then(Weak::upgrade)
            .ok_or_else(|| ferro_core::Error::State(format!("No {what} with id {id}: it was disposed or collected.")))
    }

    pub fn remove(&self, id: u32) {
        self.items().remove(&id);
    }

    /// How many objects are registered: those whose JS object is alive.
    pub fn len(&self) -> usize {
        self.items().len()
    }
}
