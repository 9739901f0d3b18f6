//! Prints what the store's follower reports (through the `log` facade) on
//! stderr, as the rest of `wgauth` does: losing the store, recovering,
//! refusing a damaged row. Its messages name tokens by id only.

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            say!("wgauth: {}", record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger once; later calls (tests) keep the first.
pub(crate) fn install() {
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}
