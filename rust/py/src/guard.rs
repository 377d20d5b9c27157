//! Panic containment for the stateful wrappers: a panic inside a core call poisons the object
//! (its state may be half-updated) and surfaces as `InternalError` instead of crashing Python.
//! [`Guarded`] is the one implementation every stateful class (`OrderBook`, `SimEngine`,
//! `Throttle`, `TrailingStops`) holds its core object in, and the one convention they follow:
//! a change goes through [`Guarded::guard`] (or [`Guarded::detached`] for a long call, which
//! releases the GIL), a read through [`Guarded::read`]; bad arguments were refused with typed
//! errors before (`args`, `columns`). `MarketsLoop` poisons the engines it ran when the merged run
//! panics.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;

use crate::errors::CoreErr;

/// A core object and its poisoned flag. `class` names the Python class in the refusal of a
/// poisoned object; `what` names the component in the message of a caught panic.
pub struct Guarded<S> {
    state: S,
    poisoned: bool,
    class: &'static str,
    what: &'static str,
    /// How a poisoned object comes back, for the refusal's message.
    until: &'static str,
}

impl<S> Guarded<S> {
    pub fn new(state: S, class: &'static str, what: &'static str) -> Self {
        Guarded { state, poisoned: false, class, what, until: "until reset()" }
    }

    /// For a class without `reset()`: a poisoned one is replaced, not reset.
    pub fn without_reset(mut self) -> Self {
        self.until = "(make a new one)";
        self
    }

    /// The state, refused (`InternalError`) once a panic poisoned it: it may be inconsistent.
    pub fn alive(&self) -> PyResult<&S> {
        if self.poisoned {
            let (class, until) = (self.class, self.until);
            return Err(CoreErr::Internal(format!(
                "this {class} hit an internal error earlier and refuses further use {until}"
            ))
            .into());
        }
        Ok(&self.state)
    }

    /// The state to change outside a core call (clearing what was read), refused as [`alive`].
    ///
    /// [`alive`]: Guarded::alive
    pub fn alive_mut(&mut self) -> PyResult<&mut S> {
        self.alive()?;
        Ok(&mut self.state)
    }

    /// The state as is, poisoned or not: only for what a panic cannot corrupt (the
    /// configuration given at construction, a `repr`).
    pub fn peek(&self) -> &S {
        &self.state
    }

    /// Run one core call; a panic poisons the state and surfaces as `InternalError`.
    pub fn guard<T>(&mut self, f: impl FnOnce(&mut S) -> Result<T, CoreErr>) -> PyResult<T> {
        self.alive()?;
        match catch_unwind(AssertUnwindSafe(|| f(&mut self.state))) {
            Ok(r) => r.map_err(PyErr::from),
            Err(payload) => {
                self.poisoned = true;
                Err(panic_error(self.what, payload.as_ref()))
            }
        }
    }

    /// [`guard`] without the GIL: for a call that may run long (a batch, a replay), so that
    /// other Python threads run meanwhile.
    ///
    /// [`guard`]: Guarded::guard
    pub fn detached<T: Send>(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut S) -> Result<T, CoreErr> + Send,
    ) -> PyResult<T>
    where
        S: Send,
    {
        py.detach(|| self.guard(f))
    }

    /// Read the state; a panic surfaces as `InternalError` (a read changes nothing, so it does not
    /// poison the state).
    pub fn read<T>(&self, f: impl FnOnce(&S) -> T) -> PyResult<T> {
        let state = self.alive()?;
        catch_unwind(AssertUnwindSafe(|| f(state)))
            .map_err(|payload| panic_error(self.what, payload.as_ref()))
    }

    /// Mark the state untrusted (a panic in a call that ran it with others).
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// The `_panic_for_test` hook every stateful class has: a change that panics, to prove the
    /// panic surfaces as `InternalError` and poisons the object.
    pub fn panic_for_test(&mut self) -> PyResult<()> {
        self.guard(|_| -> Result<(), CoreErr> { panic!("deliberate panic for testing") })
    }

    /// Bring the state back to a known one with `f` (a reset); this clears the poisoned flag.
    pub fn reset(&mut self, f: impl FnOnce(&mut S)) {
        f(&mut self.state);
        self.poisoned = false;
    }
}

/// The `InternalError` a caught panic in `what` surfaces as.
pub fn panic_error(what: &str, payload: &(dyn std::any::Any + Send)) -> PyErr {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    CoreErr::Internal(format!("internal error in the {what}: {msg}")).into()
}
