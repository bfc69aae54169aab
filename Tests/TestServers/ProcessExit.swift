import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Process {
    /// Waits for the child to end and returns its exit status (or the signal that ended it, as
    /// `terminationStatus` does). `waitUntilExit()` spins a run loop until Foundation has seen the
    /// child's exit, and on Linux it sometimes never does: a CI run hung there at 100% CPU with the
    /// child long gone. This polls, and reaps the child itself when Foundation has not; after that
    /// `isRunning` stays true, so callers keep the status returned here.
    public func waitForExit() -> Int32 {
        waitForExit(timeout: nil)!
    }

    /// The same, giving up after `timeout` seconds (nil then, with the child still running).
    public func waitForExit(timeout: TimeInterval?) -> Int32? {
        let pid = processIdentifier
        let giveUp = timeout.map { Date().addingTimeInterval($0) }
        while isRunning {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                let signal = status & 0x7f
                return signal == 0 ? (status >> 8) & 0xff : signal
            }
            if reaped == -1 && errno == ECHILD {
                // Foundation reaped it: its status follows in a moment.
                let deadline = Date().addingTimeInterval(5)
                while isRunning && Date() < deadline { usleep(1_000) }
                return isRunning ? -1 : terminationStatus
            }
            if let giveUp, Date() >= giveUp { return nil }
            usleep(1_000)
        }
        return terminationStatus
    }
}
