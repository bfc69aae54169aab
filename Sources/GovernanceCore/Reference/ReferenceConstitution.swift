/// The ACGS-2 reference constitution, shipped inside the binary.
public enum ReferenceConstitution {
    /// The guide's constitutional hash, which names this constitution.
    public static let hash = "cdd01ef066bc6cf2"
    /// SHA-256 of the canonical form of `source`. Pinned so that a modified copy is never taken for
    /// the reference: changing the reference means changing this digest on purpose, in review.
    public static let pinnedDigest = "0000000000000000000000000000000000000000000000000000000000000000"

    public static let source = #"""
metadata:
  name: ACGS-2 Reference Constitution
  version: 1.0.0
  hash: cdd01ef066bc6cf2
  description: Draft.
principles:
  - id: no-destructive-operations
    title: No destructive operations
    description: Agents do not irreversibly destroy data or infrastructure.
    category: safety
    severity: critical
rules:
  - id: destructive.recursive-delete
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Recursive deletion of a filesystem tree
    condition: |
      action.type == "shell" && containsAnyWord(action.arguments, ["rm -rf", "rm -fr"])
"""#
}
