/// Many small allocations on many threads (rows, values, pages; issue 24): mimalloc spends
/// less time on them than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    klachtd::cli::main()
}
