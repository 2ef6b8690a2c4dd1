//! The `kroniek` binary: see [`kroniek_api::cli`].

/// mimalloc instead of glibc's malloc: a rebuild reads records on one thread and folds (and
/// frees) them on another (`Store::replay`), and glibc's cross-thread frees made that slower
/// than one thread (1M-event rebuild 136k events/s); with mimalloc it is the fastest (364k/s
/// against 272k/s single-threaded). Figures in README.md, under `kroniek bench`.
///
/// Built with mimalloc's `no_thp` feature: it would otherwise ask the kernel for transparent
/// huge pages for its arenas, and a 2 MiB page is resident as soon as one byte of it is used
/// (a 1,000,000-event rebuild: 436 MB peak RSS with them, 389-396 MB without, no slower).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kroniek_api::cli::run()
}
