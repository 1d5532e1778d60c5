//! Crate-private macros for boilerplate the layers share (as tower-http's `macros.rs`).

/// The `get_ref` / `get_mut` / `into_inner` accessors of a service wrapping an `inner: S`
/// field; used inside `impl<S> Layered<S> { ... }`.
#[allow(unused_macros)] // only the layers' features use it
macro_rules! define_inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}
