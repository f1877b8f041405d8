import CGlibcExtras

/// How a `reconcile` process keeps its resident memory small on a Raspberry Pi.
public enum ProcessMemory {
    /// One malloc arena for all threads (see `proxyfarm_use_one_malloc_arena`). Call it first
    /// thing in `main`: a thread that has allocated keeps its arena, and a command's `run()`
    /// already runs on a pool thread that has (from there the daemon kept a second arena and
    /// 0.7–3.7 MB more at 100 modems). No command allocates fast enough to miss the others.
    public static func useOneMallocArena() {
        proxyfarm_use_one_malloc_arena()
    }
}
