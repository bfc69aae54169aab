import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How the server's threads are scheduled. A governed request crosses threads several times (the
/// event loop that reads it, the task that judges it, the audit log's writer, the event loop that
/// answers), and each thread woken for it preempted whichever thread was running: under load a
/// context switch per request that nobody needed, at tens of microseconds each on a virtual machine
/// (docs/PERFORMANCE.md). Linux's batch policy (`SCHED_BATCH`) keeps fair sharing of the CPUs and
/// the nice value but lets a woken thread wait for the running one to sleep or use up its slice.
/// Any process may choose it for itself; it changes no thread's priority over other processes.
public enum ThreadScheduling {
    /// Puts every thread of the process, and so every thread they start later, under the batch
    /// policy. Returns false where the platform has no such policy or refuses it (the server then
    /// runs as before).
    @discardableResult
    public static func favourThroughput() -> Bool {
        #if os(Linux)
        let batch: Int32 = 3  // SCHED_BATCH, which Glibc's Swift module does not export
        var parameters = sched_param(sched_priority: 0)
        var changed = sched_setscheduler(0, batch, &parameters) == 0
        // Threads started before this call (Swift's and the runtime's own) are moved one by one.
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for thread in threads.compactMap({ pid_t($0) }) {
            changed = sched_setscheduler(thread, batch, &parameters) == 0 && changed
        }
        return changed
        #else
        return false
        #endif
    }
}
