/// The ACGS-2 reference constitution, shipped inside the binary.
public enum ReferenceConstitution {
    /// The guide's constitutional hash, which names this constitution.
    public static let hash = "cdd01ef066bc6cf2"
    /// SHA-256 of the canonical form of `source`. Pinned so that a modified copy is never taken for
    /// the reference: changing the reference means changing this digest on purpose, in review.
    public static let pinnedDigest = "65844a359d4072d902379600671a27ba646221c4715252eb6e0af9de904d8625"

    public static let source = #"""
metadata:
  name: ACGS-2 Reference Constitution
  version: 1.1.0
  hash: cdd01ef066bc6cf2
  description: >-
    The reference constitution for AI agents acting on real systems. It denies irreversible
    destruction, data exfiltration, disclosure of secrets, tampering with governance, harmful
    content and prompt injection; escalates production changes, large or unusual payments and
    bulk exports of personal data to a human; and warns about personal data in internal content.
    Input conventions - action.type is one of shell, database, http_request, email, message,
    file_read, file_write, file_delete, git, deploy, infrastructure, payment, config_change,
    permission_change, llm_output, tool_call (an action of any other type is escalated, because
    the rules written for these types cannot see it); commands, queries, URLs and bodies go in
    action.arguments; the text sent or written goes in content; the integration sets
    context.environment, context.external (data leaves the organisation),
    context.destination_trusted, context.destination_verified, context.sanctioned_countries and
    context.flagged_accounts.
principles:
  - id: no-destructive-operations
    title: No irreversible destruction
    description: >-
      Agents do not irreversibly destroy data, code history, backups or infrastructure. Deleting
      a database, a cluster or a branch everyone depends on is a decision people take, not agents.
    category: safety
    severity: critical
  - id: no-data-exfiltration
    title: Data stays where it belongs
    description: >-
      Agents do not move the organisation's data to paste sites, anonymous file hosts, request
      catchers or unknown destinations, and do not export personal data in bulk without approval.
    category: security
    severity: critical
  - id: protect-secrets
    title: Secrets are never disclosed
    description: >-
      Credentials, keys and tokens never appear in what an agent runs, sends or outputs;
      credentials are attached by the gateway, not by agents, and credential stores are not read.
    category: security
    severity: critical
  - id: protect-personal-data
    title: Personal data is protected
    description: >-
      Personal data (identity numbers, card numbers, bank accounts, contact details) does not
      leave the organisation without approval and is handled sparingly inside it.
    category: privacy
    severity: high
  - id: governance-integrity
    title: Governance cannot be tampered with
    description: >-
      Agents do not disable audit, logging or monitoring, change the constitution or their own
      permissions, approve their own requests, or try to get around human oversight.
    category: governance
    severity: critical
  - id: financial-controls
    title: Money moves only under control
    description: >-
      Payments to sanctioned, flagged or unverified destinations are refused; large, crypto and
      unusual payments and changes of payment instructions need a human.
    category: finance
    severity: high
  - id: production-change-control
    title: Production changes have a human in the loop
    description: >-
      Deployments, migrations, configuration changes, restarts and writes in production are
      escalated to a human before they happen.
    category: operations
    severity: high
  - id: resist-prompt-injection
    title: Instructions come only from principals
    description: >-
      Text that tries to override the agent's instructions, extract its prompt or hijack its role
      is not acted upon.
    category: security
    severity: high
  - id: no-harmful-content
    title: No harmful content
    description: >-
      Agents do not produce instructions for weapons capable of mass or untraceable harm,
      self-harm instructions, hate speech or threats, and route people at risk to a human.
    category: safety
    severity: critical
  - id: secure-execution
    title: Systems stay secure
    description: >-
      Agents do not run unreviewed remote code, open reverse shells, dump credentials or switch
      off security controls.
    category: security
    severity: high
rules:
  # ---------------------------------------------------------------- destructive operations
  - id: destructive.recursive-delete
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Recursive deletion of a directory tree
    recommendation: Delete the specific files you created, by name, or ask a human to remove the tree.
    condition: |
      action.type in ["shell", "tool_call", "infrastructure", "file_delete"] &&
      (containsAnyWord(action.arguments, [
         "rm rf*", "rm fr*", "rm r", "rm rv*", "rm vr*", "rm f r", "rm v r", "rm i r",
         "rm recursive", "rm force recursive", "rm recurse", "rm no preserve root",
         "rmdir s", "rd s", "del s", "del f s", "del q s"]) ||
       # rm with a recursive flag anywhere among its flags (-dfr, -Irf, -f -v -r)
       (containsAnyWord(action.arguments, ["rm"]) &&
        matches(action.arguments, "(^|[\s;&|(`'\"/])rm\s+((-[a-zA-Z]+|--[a-z][a-z-]*)\s+)*(-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)(\s|$)")))
  - id: destructive.find-delete
    principle: no-destructive-operations
    effect: deny
    severity: high
    message: Bulk deletion through find or xargs
    recommendation: List the files first and delete the specific ones you created.
    condition: |
      action.type in ["shell", "tool_call", "infrastructure"] &&
      (containsAllWords(action.arguments, ["find", "delete"]) ||
       containsAnyWord(action.arguments, ["exec rm", "xargs rm", "xargs r rm", "xargs 0 rm"]))
  - id: destructive.recursive-delete-api
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Recursive deletion through a library call or PowerShell
    recommendation: Remove the specific files you created instead of a whole tree.
    condition: |
      action.type in ["shell", "tool_call", "infrastructure"] &&
      (containsAnyWord(action.arguments, [
         "rmtree", "rimraf", "removeall", "remove dir all", "deltree", "fileutils rm r", "rm recurse"]) ||
       containsAllWords(action.arguments, ["remove item", "recurse"]) ||
       containsAllWords(action.arguments, ["rmsync", "recursive"]) ||
       containsAllWords(action.arguments, ["fs rm", "recursive"]))
  - id: destructive.recursive-file-delete
    principle: no-destructive-operations
    effect: deny
    severity: high
    message: Recursive or wildcard file deletion
    recommendation: Delete files one at a time, by name.
    condition: |
      action.type == "file_delete" &&
      (action.arguments.recursive == true || iequals(action.arguments.recursive, "true") ||
       action.arguments.path in ["/", "~", "*", ".", "..", "/*", "~/", "C:\\"] ||
       endsWith(action.arguments.path, ["/*", "/**", "\\*"]))
  - id: destructive.sql-drop
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Dropping a database, schema, table or column
    recommendation: Ask a database administrator; keep a backup and a migration that can be reviewed.
    condition: |
      action.type in ["database", "shell", "tool_call"] &&
      !(action.type == "shell" && istartsWith(action.arguments.command, ["grep ", "rg ", "git grep ", "git log "])) &&
      containsAnyWord(action.arguments, [
        "drop table", "drop database", "drop schema", "drop collection", "drop keyspace",
        "drop owned", "dropdb", "dropdatabase", "drop column"])
  - id: destructive.sql-truncate
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Truncating a table
    recommendation: Delete the specific rows with a WHERE clause, after review.
    condition: |
      action.type in ["database", "shell", "tool_call"] &&
      !(action.type == "shell" && istartsWith(action.arguments.command, ["grep ", "rg ", "git grep ", "git log "])) &&
      (containsAnyWord(action.arguments, ["truncate table"]) ||
       contains(action.arguments, ["TRUNCATE "]) ||
       (action.type == "database" && istartsWith(action.arguments, ["truncate "])))
  - id: destructive.sql-delete-all
    principle: no-destructive-operations
    effect: deny
    severity: high
    message: DELETE without a restricting WHERE clause
    recommendation: Add a WHERE clause that selects the rows to delete, and check the row count first.
    condition: |
      action.type in ["database", "shell", "tool_call"] &&
      !(action.type == "shell" && istartsWith(action.arguments.command, ["grep ", "rg ", "git grep ", "git log "])) &&
      containsAnyWord(action.arguments, ["delete from"]) &&
      (!containsAnyWord(action.arguments, ["where"]) ||
       containsAnyWord(action.arguments, ["where 1 1", "where true", "or 1 1", "or true"]))
  - id: destructive.sql-update-all
    principle: no-destructive-operations
    effect: escalate
    severity: high
    message: UPDATE of every row of a table
    recommendation: Add a WHERE clause that selects the rows to change.
    condition: |
      action.type in ["database", "shell", "tool_call"] &&
      near(action.arguments, ["update"], ["set"], 3) &&
      !containsAnyWord(action.arguments, ["where"])
  - id: destructive.nosql-wipe
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Wiping a key-value store, document database or search index
    condition: |
      action.type in ["database", "shell", "tool_call"] &&
      (containsAnyWord(action.arguments, ["flushall", "flushdb"]) ||
       contains(action.arguments, ["deleteMany({})", "deleteMany( {} )", "remove({})", ".drop()"]) ||
       containsAllWords(action.arguments, ["delete by query", "match all"]))
  - id: destructive.wipe-intent
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Request to wipe or destroy a database, system or data set
    recommendation: Name the specific, recoverable change you need; destruction of systems is done by people.
    condition: |
      near(content,
           ["wipe", "wipes", "wiping", "wiped", "nuke", "nukes", "nuking", "nuked", "obliterat*",
            "destroy*", "eras*", "purg*", "annihilat*", "trash", "trashing", "torch"],
           ["database*", "db", "dbs", "table", "tables", "schema*", "datastore*", "prod", "production",
            "backup*", "everything", "server", "servers", "cluster*",
            "bucket*", "repo", "repos", "repository", "customers", "users", "accounts"], 4) ||
      near(action.description,
           ["wipe", "wipes", "wiping", "wiped", "nuke", "nukes", "nuking", "nuked", "obliterat*",
            "destroy*", "eras*", "purg*", "annihilat*", "trash", "trashing", "torch"],
           ["database*", "db", "dbs", "table", "tables", "schema*", "datastore*", "prod", "production",
            "backup*", "everything", "server", "servers", "cluster*",
            "bucket*", "repo", "repos", "repository", "customers", "users", "accounts"], 4)
  - id: destructive.bulk-delete-intent
    principle: no-destructive-operations
    effect: deny
    severity: high
    message: Request to delete all records, tables or data
    recommendation: Delete specific records selected by a reviewed condition.
    condition: |
      (near(content, ["delet*", "remov*", "drop", "dropping", "truncat*", "rid", "empty", "emptying"],
            ["all", "every", "entire", "whole", "everything"], 3) &&
       near(content, ["delet*", "remov*", "drop", "dropping", "truncat*", "rid", "empty", "emptying"],
            ["database*", "db", "table", "tables", "record*", "rows", "data", "customers", "users",
             "accounts", "orders", "transactions", "backup*", "prod", "production", "entries"], 6)) ||
      (near(action.description, ["delet*", "remov*", "drop", "dropping", "truncat*", "rid", "empty", "emptying"],
            ["all", "every", "entire", "whole", "everything"], 3) &&
       near(action.description, ["delet*", "remov*", "drop", "dropping", "truncat*", "rid", "empty", "emptying"],
            ["database*", "db", "table", "tables", "record*", "rows", "data", "customers", "users",
             "accounts", "orders", "transactions", "backup*", "prod", "production", "entries"], 6))
  - id: destructive.force-push-protected
    principle: no-destructive-operations
    effect: deny
    severity: high
    message: Force push to a protected branch rewrites shared history
    recommendation: Push to a feature branch and open a pull request.
    condition: |
      action.type in ["git", "shell", "tool_call"] &&
      containsAnyWord(action.arguments, ["push"]) &&
      (action.arguments.force == true ||
       containsAnyWord(action.arguments, ["force", "f", "force with lease", "force if includes"]) ||
       contains(action.arguments, ["+main", "+master", "+release"])) &&
      containsAnyWord(action.arguments, ["main", "master", "release*", "production", "prod", "trunk"]) &&
      matches(action.arguments, "(?i)(^|[\s:+]|heads/|origin/)(main|master|trunk|production|prod|release([/-][\w.-]*)?)(\s|:|$)")
  - id: destructive.force-push
    principle: no-destructive-operations
    effect: warn
    severity: low
    message: Force push rewrites branch history
    recommendation: Prefer --force-with-lease and make sure nobody else works on the branch.
    condition: |
      action.type in ["git", "shell", "tool_call"] &&
      containsAnyWord(action.arguments, ["push"]) &&
      (action.arguments.force == true ||
       containsAnyWord(action.arguments, ["force", "f", "force with lease", "force if includes"])) &&
      !(containsAnyWord(action.arguments, ["main", "master", "release*", "production", "prod", "trunk"]) &&
        matches(action.arguments, "(?i)(^|[\s:+]|heads/|origin/)(main|master|trunk|production|prod|release([/-][\w.-]*)?)(\s|:|$)"))
  - id: destructive.delete-protected-branch
    principle: no-destructive-operations
    effect: deny
    severity: high
    message: Deleting a protected branch
    condition: |
      action.type in ["git", "shell", "tool_call"] &&
      containsAnyWord(action.arguments, ["main", "master", "release*", "production", "trunk"]) &&
      (containsAllWords(action.arguments, ["push", "delete"]) ||
       contains(action.arguments, [":main", ":master", ":release"]) ||
       containsAnyWord(action.arguments, ["delete branch", "branch d", "delete ref"])) &&
      matches(action.arguments, "(?i)(^|[\s:+]|heads/|origin/)(main|master|trunk|production|prod|release([/-][\w.-]*)?)(\s|:|$)")
  - id: destructive.infrastructure-teardown
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Tearing down infrastructure (clusters, namespaces, buckets, machines, stacks)
    recommendation: Open a change request; infrastructure is destroyed by people, after review.
    condition: |
      action.type in ["infrastructure", "shell", "tool_call", "deploy"] &&
      (containsAnyWord(action.arguments, [
         "terraform destroy", "tofu destroy", "terragrunt destroy", "pulumi destroy", "cdk destroy",
         "sam delete", "serverless remove", "eksctl delete", "kubectl delete namespace",
         "kubectl delete ns", "kubectl delete all", "s3 rb", "gsutil rm r", "gcloud storage rm r",
         "az group delete", "terminate instances", "delete db instance", "delete db cluster",
         "delete cluster", "delete stack", "delete bucket", "projects delete", "kubectl delete pvc",
         "kubectl delete pv", "kubectl delete persistentvolume*"]) ||
       containsAllWords(action.arguments, ["s3 rm", "recursive"]) ||
       containsAllWords(action.arguments, ["kubectl delete", "all"]) ||
       near(action.arguments, ["delete", "destroy", "terminate", "teardown", "deprovision"],
            ["namespace", "namespaces", "bucket", "buckets", "cluster", "clusters", "vpc", "vm", "vms",
             "instance", "instances", "rds", "stack", "stacks", "project"], 3) ||
       (action.type == "infrastructure" &&
        containsAnyWord(action.arguments, ["delete", "destroy", "terminate", "teardown", "deprovision"]) &&
        containsAnyWord(action.arguments, ["namespace", "bucket", "cluster", "vpc", "vm", "instance",
          "database", "rds", "stack", "project", "environment"])))
  - id: destructive.disk-format
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Formatting or overwriting a disk
    condition: |
      action.type in ["shell", "tool_call", "infrastructure"] &&
      (containsAnyWord(action.arguments, [
         "mkfs*", "mke2fs", "newfs", "wipefs", "diskpart", "blkdiscard", "sgdisk z*", "format c",
         "format volume", "clear disk", "diskutil erasedisk", "diskutil erasevolume"]) ||
       (containsAnyWord(action.arguments, ["dd"]) && containsAnyWord(action.arguments, ["of dev"])) ||
       (containsAnyWord(action.arguments, ["shred"]) && containsAnyWord(action.arguments, ["dev"])) ||
       (containsAnyWord(action.arguments, ["dev"]) &&
        matches(action.arguments, ">\s*/dev/(sd|hd|nvme|xvd|vd|mmcblk|disk)")))
  - id: destructive.system-sabotage
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Command that takes down the whole system (fork bomb, killing every process, crashing the kernel)
    condition: |
      action.type in ["shell", "tool_call"] &&
      (contains(action.arguments, [":(){", ":() {"]) ||
       containsAnyWord(action.arguments, ["kill 9 1", "kill kill 1", "kill s kill 1", "sysrq trigger", "chmod r 000", "chmod 000 r"]) ||
       (containsAnyWord(action.arguments, ["mv"]) &&
        matches(action.arguments, "(^|[\s;&|])mv\s+(\S+\s+)+/dev/null(\s|;|&|$)")))
  - id: destructive.secure-erase
    principle: no-destructive-operations
    effect: deny
    severity: high
    message: Overwriting files so that they cannot be recovered
    recommendation: Delete the specific files you created; secure erasure is an operator's task.
    condition: |
      action.type in ["shell", "tool_call", "infrastructure"] &&
      containsAnyWord(action.arguments, ["shred", "srm", "sdelete*", "cipher w"])
  - id: destructive.backup-deletion
    principle: no-destructive-operations
    effect: deny
    severity: critical
    message: Deleting backups, snapshots or shadow copies
    recommendation: Backups are expired by their retention policy, not by agents.
    condition: |
      action.type in ["shell", "tool_call", "infrastructure", "database", "file_delete"] &&
      (near(action.arguments, ["delete*", "remove*", "rm", "purge*", "drop", "destroy*", "expire"],
            ["backup*", "snapshot*", "shadows", "shadowcopy", "recoverypoint*"], 3) ||
       containsAnyWord(action.arguments, ["vssadmin delete", "wbadmin delete", "shadowcopy delete"]) ||
       (action.type == "file_delete" && containsAnyWord(action.arguments, ["backup*", "snapshot*"])))

  # ---------------------------------------------------------------- data exfiltration
  - id: exfil.paste-site
    principle: no-data-exfiltration
    effect: deny
    severity: critical
    message: Sending data to a public paste site
    recommendation: Share through the organisation's document store with access control.
    condition: |
      hostIn(action, [
        "pastebin.com", "hastebin.com", "hastebin.skyra.pw", "ghostbin.com", "ghostbin.co", "transfer.sh",
        "paste.ee", "dpaste.com", "dpaste.org", "termbin.com", "paste.rs", "ix.io", "sprunge.us",
        "rentry.co", "rentry.org", "controlc.com", "justpaste.it", "privatebin.net", "pastebin.pl",
        "paste2.org", "pastie.org", "paste.mozilla.org", "pastes.dev", "paste.centos.org"]) ||
      containsAnyWord(action.arguments, ["pastebin", "hastebin", "ghostbin", "termbin", "privatebin", "dpaste"])
  - id: exfil.anonymous-file-host
    principle: no-data-exfiltration
    effect: deny
    severity: high
    message: Uploading to an anonymous file host
    recommendation: Share through the organisation's document store with access control.
    condition: |
      hostIn(action, [
        "file.io", "gofile.io", "0x0.st", "catbox.moe", "temp.sh", "bashupload.com", "anonfiles.com",
        "anonfile.com", "filebin.net", "uguu.se", "oshi.at", "pixeldrain.com", "tmpfiles.org",
        "keep.sh", "x0.at", "bayfiles.com", "letsupload.io", "files.catbox.moe"]) ||
      containsAnyWord(action.arguments, ["gofile io", "0x0 st", "catbox moe", "bashupload com", "anonfiles com",
                                         "filebin net", "pixeldrain com", "tmpfiles org"])
  - id: exfil.file-sharing-service
    principle: no-data-exfiltration
    effect: escalate
    severity: medium
    message: Sending data through a consumer file-sharing service
    recommendation: Use the organisation's approved sharing service, or have a human approve the transfer.
    condition: |
      hostIn(action, [
        "wetransfer.com", "we.tl", "mega.nz", "mega.io", "mediafire.com", "sendspace.com",
        "4shared.com", "zippyshare.com", "filemail.com", "swisstransfer.com", "transfernow.net",
        "send-anywhere.com", "jumpshare.com"]) ||
      containsAnyWord(action.arguments, ["wetransfer com", "mega nz", "mediafire com", "sendspace com"])
  - id: exfil.collection-endpoint
    principle: no-data-exfiltration
    effect: deny
    severity: high
    message: Sending data to a request catcher, tunnel or out-of-band collection endpoint
    condition: |
      hostIn(action, [
        "webhook.site", "requestbin.com", "requestbin.net", "requestcatcher.com", "pipedream.net",
        "ngrok.io", "ngrok-free.app", "ngrok.app", "trycloudflare.com", "loca.lt", "localtunnel.me",
        "serveo.net", "interact.sh", "oast.fun", "oast.me", "oast.pro", "oast.live", "oast.site",
        "oast.online", "burpcollaborator.net", "oastify.com", "beeceptor.com", "hookbin.com",
        "dnslog.cn", "ceye.io"]) ||
      containsAnyWord(action.arguments, ["webhook site", "requestbin", "pipedream net", "ngrok io", "ngrok free app",
                                         "ngrok app", "trycloudflare com", "interact sh", "oastify com",
                                         "burpcollaborator net", "requestcatcher com"])
  - id: exfil.untrusted-destination
    principle: no-data-exfiltration
    effect: escalate
    severity: high
    message: Sending data to a destination that is not on the allowlist
    recommendation: Have a human confirm the destination, or add it to the allowlist.
    condition: |
      action.type in ["http_request", "email", "message", "tool_call", "shell", "database", "file_write"] &&
      context.destination_trusted == false
  - id: exfil.raw-ip-destination
    principle: no-data-exfiltration
    effect: escalate
    severity: high
    message: Network transfer to a bare public IP address
    recommendation: Use a named, allowlisted host.
    condition: |
      action.type in ["http_request", "shell", "tool_call"] &&
      containsAnyWord(action.arguments, [
        "curl", "wget", "scp", "rsync", "nc", "ncat", "netcat", "ftp", "sftp", "socat", "http", "https"]) &&
      matches(action.arguments, "(^|://|@|\s)(?!(10|127|0)\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}($|[^\d.])")
  - id: exfil.bulk-personal-export
    principle: no-data-exfiltration
    effect: escalate
    severity: high
    message: Bulk export of a table of people
    recommendation: Export only the columns and rows the task needs; a human approves bulk exports of personal data.
    condition: |
      action.type in ["database", "shell", "tool_call"] &&
      near(action.arguments,
           ["export*", "dump*", "mysqldump", "mongoexport", "copy", "unload", "outfile", "extract*", "download*"],
           ["users", "customers", "patients", "employees", "members", "subscribers",
            "contacts", "clients", "people", "persons", "accounts"], 5) ||
      (action.type == "tool_call" && containsAnyWord(action.tool, ["export*", "dump*", "download*", "extract*"]) &&
       containsAnyWord(action.arguments, ["users", "customers", "patients", "employees", "members", "subscribers",
                                          "contacts", "clients", "people", "persons", "accounts"]))
  - id: exfil.personal-data-external
    principle: no-data-exfiltration
    effect: deny
    severity: critical
    message: Personal data table sent outside the organisation
    recommendation: Share aggregated or anonymised data instead.
    condition: |
      action.type in ["database", "shell", "tool_call", "http_request"] &&
      (context.external == true || context.destination_trusted == false ||
       containsAnyWord(action.arguments, ["curl", "wget", "scp", "nc", "ncat", "netcat", "rclone", "sftp"])) &&
      ((containsAnyWord(action.arguments, [
          "from users", "from customers", "from patients", "from employees", "from members",
          "from subscribers", "from contacts", "from clients", "from people", "from accounts"]) &&
        !containsAnyWord(action.arguments, ["where", "limit", "count"])) ||
       near(action.arguments,
            ["export*", "dump*", "mysqldump", "mongoexport", "copy", "unload", "outfile"],
            ["users", "customers", "patients", "employees", "members", "subscribers", "contacts",
             "clients", "people", "accounts"], 5))
  - id: exfil.mass-recipients
    principle: no-data-exfiltration
    effect: escalate
    severity: medium
    message: Message to more than 100 recipients
    recommendation: Use the mailing-list tool with its unsubscribe and consent handling.
    condition: |
      action.type in ["email", "message"] &&
      (size(action.arguments.to) > 100 || size(action.arguments.cc) > 100 || size(action.arguments.bcc) > 100 ||
       number(action.arguments.recipient_count) > 100)

  # ---------------------------------------------------------------- secrets
  - id: secrets.in-action
    principle: protect-secrets
    effect: deny
    severity: critical
    message: A secret appears in the action (command, URL, query or arguments)
    recommendation: Reference the credential by name; the gateway injects it.
    condition: |
      secret(action)
  - id: secrets.in-content
    principle: protect-secrets
    effect: deny
    severity: critical
    message: A secret appears in the content being sent or produced
    recommendation: Remove the credential and rotate it if it has already been shared.
    condition: |
      secret(content) && !(action.type == "file_write")
  - id: secrets.in-file
    principle: protect-secrets
    effect: escalate
    severity: high
    message: A secret is being written to a file
    recommendation: Use the secret store; configuration files reference secrets by name.
    condition: |
      action.type == "file_write" && secret(content)
  - id: secrets.credential-store-access
    principle: protect-secrets
    effect: escalate
    severity: high
    message: Reading a credential store (SSH keys, cloud credentials, password files, the instance metadata service)
    condition: |
      (action.type in ["shell", "tool_call"] &&
       containsAnyWord(action.arguments, [
         "id rsa", "id ed25519", "id ecdsa", "id dsa", "aws credentials", "etc shadow", "kube config",
         "docker config json", "netrc", "pgpass", "git credentials", "application default credentials",
         "credentials json", "keychain", "find generic password", "vault token"]) &&
       !containsAnyWord(action.arguments, ["id rsa pub", "id ed25519 pub", "id ecdsa pub", "ssh keygen"])) ||
      # the cloud instance metadata service hands out the machine's credentials
      (action.type in ["shell", "tool_call", "http_request"] &&
       (hostIn(action.arguments, ["metadata.google.internal", "metadata.azure.com"]) ||
        contains(action.arguments, ["169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"])))
  - id: secrets.credential-exfil
    principle: protect-secrets
    effect: deny
    severity: critical
    message: Credentials or environment secrets sent over the network
    condition: |
      action.type in ["shell", "tool_call"] &&
      (containsAnyWord(action.arguments, [
         "id rsa", "id ed25519", "id ecdsa", "aws credentials", "etc shadow", "kube config", "netrc",
         "pgpass", "git credentials", "printenv", "cat env", "proc self environ", "bash history"]) ||
       # the whole environment piped or written out (env | curl ..., env > /tmp/e)
       (containsAnyWord(action.arguments, ["env", "export p"]) &&
        matches(action.arguments, "(^|[;&|(]\s*)(env|export\s+-p)\s*(\||>)"))) &&
      containsAnyWord(action.arguments, [
        "curl", "wget", "nc", "ncat", "netcat", "scp", "rsync", "sftp", "ftp", "socat", "telnet",
        "http", "https", "sendmail", "mail"])
  - id: exfil.public-exposure
    principle: no-data-exfiltration
    effect: escalate
    severity: high
    message: Making storage readable by anyone on the internet
    recommendation: Share with the specific people or accounts that need it; a human approves public access.
    condition: |
      action.type in ["shell", "tool_call", "infrastructure", "config_change"] &&
      containsAnyWord(action.arguments, [
        "public read", "public read write", "allusers", "allauthenticatedusers", "public access blob",
        "public access container", "blobpublicaccess true", "allow blob public access true",
        "block public acls false", "restrict public buckets false"])
  - id: exfil.dump-sent-out
    principle: no-data-exfiltration
    effect: escalate
    severity: high
    message: A database dump or the source repository sent to another host
    recommendation: Backups and mirrors go to destinations a human has approved.
    condition: |
      action.type in ["shell", "tool_call"] &&
      ((containsAnyWord(action.arguments, ["pg dump", "pg dumpall", "mysqldump", "mariadb dump", "mongodump", "redis cli rdb"]) &&
        containsAnyWord(action.arguments, ["curl", "wget", "scp", "rsync", "sftp", "nc", "ncat", "socat", "rclone",
                                           "aws s3 cp", "gsutil cp", "azcopy", "ssh"])) ||
       containsAllWords(action.arguments, ["git remote add", "git push"]) ||
       (containsAnyWord(action.arguments, ["git push"]) && matches(action.arguments, "git\s+push\s+(-\S+\s+)*(https?|ssh|git)://")))

  # ---------------------------------------------------------------- personal data
  - id: privacy.sensitive-pii-external
    principle: protect-personal-data
    effect: deny
    severity: high
    message: Identity, card or bank account numbers sent outside the organisation
    recommendation: Send a reference to the record, or mask the number.
    condition: |
      context.external == true && !(action.type == "payment") &&
      (pii(content, ["ssn", "credit_card", "iban"]) || pii(action.arguments, ["ssn", "credit_card", "iban"]))
  - id: privacy.contact-pii-external
    principle: protect-personal-data
    effect: escalate
    severity: medium
    message: Contact details sent to an external service
    recommendation: Check the service is an approved processor for this data.
    condition: |
      action.type in ["http_request", "tool_call", "shell", "database"] && context.external == true &&
      (pii(content, ["email", "phone"]) || pii(action.arguments, ["email", "phone"]))
  - id: privacy.sensitive-pii-disclosure
    principle: protect-personal-data
    effect: escalate
    severity: medium
    message: Identity, card or bank account numbers disclosed in output or a message
    recommendation: Mask all but the last four digits.
    condition: |
      action.type in ["llm_output", "message", "email"] && !(context.external == true) &&
      pii(content, ["ssn", "credit_card", "iban"])
  - id: privacy.pii-in-url
    principle: protect-personal-data
    effect: escalate
    severity: medium
    message: Personal data in a URL (URLs end up in logs and browser history)
    recommendation: Send personal data in the request body.
    condition: |
      action.type in ["http_request", "tool_call"] &&
      (pii(action.arguments.url) || pii(action.target))
  - id: privacy.pii-in-content
    principle: protect-personal-data
    effect: warn
    severity: low
    message: Content contains personal data
    recommendation: Keep personal data to what the task needs.
    condition: |
      pii(content) && !(context.external == true)

  # ---------------------------------------------------------------- governance integrity
  - id: governance.disable-audit-logging
    principle: governance-integrity
    effect: deny
    severity: critical
    message: Disabling, deleting or tampering with audit logs or logging
    condition: |
      action.type in ["shell", "tool_call", "config_change", "infrastructure", "file_delete", "file_write",
                      "database", "deploy", "permission_change"] &&
      (near(action,
            ["disabl*", "stop", "stops", "stopping", "kill", "pause*", "mute*", "silenc*", "suppress*",
             "turn", "switch", "unset", "unload", "off", "bypass*"],
            ["audit*", "auditd", "cloudtrail", "journald", "rsyslog*", "syslog*", "histfile", "siem"], 3) ||
       (near(action,
            ["disabl*", "stop", "stops", "stopping", "kill", "pause*", "mute*", "silenc*", "suppress*",
             "turn", "switch", "unset", "unload", "off", "bypass*"],
            ["logging", "logs"], 2) &&
        !containsAnyWord(action, ["debug", "verbose", "verbosity", "trace", "tracing"])) ||
       near(action,
            ["delet*", "remov*", "truncat*", "clear*", "purg*", "wipe*", "shred", "rm", "eras*", "drop"],
            ["audit*", "auditd", "cloudtrail", "journald", "syslog*", "wtmp", "btmp", "lastlog"], 3) ||
       containsAnyWord(action, ["auditctl e 0", "auditctl d", "stop logging", "history c", "unset histfile",
                                "histsize 0", "histfilesize 0", "delete trail", "set o history",
                                "shopt u o history", "journalctl vacuum*", "journalctl rotate vacuum*"]) ||
       # emptying a system log in place (echo > /var/log/auth.log, truncate -s 0 /var/log/syslog)
       (containsAllWords(action.arguments, ["var", "log"]) &&
        matches(action.arguments, "(^|[;&|('\"])\s*(:|echo|true|cat\s+/dev/null)?\s*>\s*/var/log/|\btruncate\s+(-s\s*|--size[= ])0\s+/var/log/")))
  - id: governance.audit-config-disabled
    principle: governance-integrity
    effect: deny
    severity: critical
    message: Configuration change that switches off audit, logging or monitoring
    condition: |
      action.type == "config_change" &&
      containsAnyWord(action.arguments, [
        "audit*", "logging", "log", "logs", "cloudtrail", "monitoring", "alerting", "alerts", "telemetry"]) &&
      !containsAnyWord(action.arguments, ["debug", "verbose", "verbosity", "trace", "tracing", "sampling"]) &&
      (action.arguments.value == false || action.arguments.enabled == false || action.arguments.value == 0 ||
       iequals(action.arguments.value, ["false", "off", "disabled", "disable", "none", "0", "no"]))
  - id: governance.disable-monitoring
    principle: governance-integrity
    effect: deny
    severity: high
    message: Switching off monitoring or alerting
    condition: |
      action.type in ["shell", "tool_call", "config_change", "infrastructure", "deploy"] &&
      near(action,
           ["disabl*", "stop", "stops", "stopping", "kill", "pause*", "turn", "switch", "uninstall*",
            "unload", "off", "bypass*", "shut", "shutdown"],
           ["monitoring", "alerting", "alertmanager", "datadog", "prometheus", "pagerduty", "opsgenie",
            "guardduty", "newrelic", "sentry", "securityhub", "telemetry", "watchdog"], 3) ||
      containsAnyWord(action, ["guardduty delete detector", "disable alarm actions", "delete alarms",
                               "stop configuration recorder", "delete configuration recorder",
                               "disable security hub", "disable detector"])
  - id: governance.constitution-tamper
    principle: governance-integrity
    effect: deny
    severity: critical
    message: Changing the constitution or the guardrails that govern agents
    recommendation: Constitutional amendments are proposed and approved by people.
    condition: |
      near(action,
           ["edit*", "modif*", "chang*", "rewrit*", "overwrit*", "delet*", "remov*", "disabl*", "bypass*",
            "replac*", "amend*", "updat*", "patch*", "weaken*", "relax*", "turn", "switch", "truncat*"],
           ["constitution*", "acgs", "guardrail*"], 4) ||
      # stopping, killing or removing the governance service itself, or reaching into its database
      (action.type in ["shell", "tool_call", "infrastructure", "deploy", "config_change"] &&
       near(action.arguments,
            ["kill", "pkill", "killall", "stop", "shutdown", "rm", "mv", "unlink", "uninstall*", "scale",
             "sqlite3", "psql", "mask"],
            ["acgs", "acgs2"], 4)) ||
      (action.type in ["file_write", "file_delete", "git", "config_change"] &&
       containsAnyWord(action.arguments, ["constitution*", "acgs", "guardrail*"]))
  - id: governance.self-permission
    principle: governance-integrity
    effect: deny
    severity: critical
    message: An agent changing its own permissions or roles
    recommendation: Ask the agent's owner to request the access.
    condition: |
      action.type in ["permission_change", "config_change"] &&
      ((action.type == "permission_change" &&
        ((exists(agent.id) &&
          (action.arguments.principal == agent.id || action.arguments.user == agent.id ||
           action.arguments.subject == agent.id || action.arguments.agent_id == agent.id ||
           action.arguments.member == agent.id || action.target == agent.id)) ||
         action.arguments.self == true ||
         containsAnyWord(action, ["myself", "my own", "own permissions", "own role", "own roles",
                                  "own access", "self grant", "self assign"]))) ||
       (action.type == "config_change" && exists(agent.id) && agent.id in action.arguments.key &&
        containsAnyWord(action.arguments.key, ["role*", "permission*", "scope*", "acl*", "polic*", "grant*",
                                               "privilege*", "access"])))
  - id: governance.privilege-grant
    principle: governance-integrity
    effect: escalate
    severity: high
    message: Granting administrative or unrestricted access
    recommendation: A human approves grants of administrative access.
    condition: |
      (action.type == "permission_change" &&
       (containsAnyWord(action.arguments, [
          "admin*", "root", "owner", "owners", "superuser", "sudo*", "wheel", "full access",
          "all permissions", "administratoraccess", "god mode"]) ||
        contains(action.arguments, ["*"]))) ||
      # the same grants made through a cloud CLI or SQL
      (action.type in ["shell", "tool_call", "infrastructure", "database"] &&
       (containsAnyWord(action.arguments, [
          "administratoraccess", "iamfullaccess", "grant all", "with superuser", "alter role", "alter user",
          "cluster admin", "clusterrolebinding"]) &&
        containsAnyWord(action.arguments, [
          "administratoraccess", "iamfullaccess", "all privileges", "all", "superuser", "cluster admin",
          "owner", "admin*"])))
  - id: governance.self-approval
    principle: governance-integrity
    effect: deny
    severity: critical
    message: An agent approving its own request
    recommendation: Approvals come from someone other than the requester.
    condition: |
      containsAnyWord(action, ["approv*", "authoriz*", "authoris*", "sign off", "signoff"]) &&
      ((exists(agent.id) &&
        (action.arguments.requester == agent.id || action.arguments.requested_by == agent.id ||
         action.arguments.author == agent.id || action.arguments.created_by == agent.id)) ||
       (exists(action.arguments.approver) && action.arguments.approver == action.arguments.requester) ||
       containsAnyWord(action, ["my own request", "my own pull request", "my own pr", "my own change",
                                "self approve", "self approval", "approve myself"]) ||
       containsAnyWord(content, ["approve my own", "approving my own", "self approve"]))
  - id: governance.shell-privilege-escalation
    principle: governance-integrity
    effect: deny
    severity: high
    message: Raising privileges on a host (sudoers, setuid, admin groups)
    condition: |
      action.type in ["shell", "tool_call", "file_write"] &&
      (containsAnyWord(action.arguments, [
         "sudoers", "visudo", "nopasswd", "usermod ag sudo", "usermod ag wheel", "usermod ag admin",
         "usermod ag root", "gpasswd a", "chmod u s", "chmod 4755", "chmod 4777", "setcap", "passwd root",
         "net localgroup administrators"]) ||
       # writing the account files directly (echo ... >> /etc/passwd, tee -a, a file_write there)
       (containsAnyWord(action.arguments, ["passwd", "shadow", "group", "gshadow"]) &&
        (matches(action.arguments, "(>>?|\btee\b(\s+-a)?)\s*/etc/(passwd|shadow|group|gshadow)\b") ||
         (action.type == "file_write" && matches(action.arguments.path, "^/etc/(passwd|shadow|group|gshadow)$")))))
  - id: governance.unknown-action-type
    principle: governance-integrity
    effect: escalate
    severity: medium
    message: An action of a type this constitution has no rules for
    recommendation: >-
      Send the action under one of the types the constitution names (shell, database, http_request,
      email, message, file_read, file_write, file_delete, git, deploy, infrastructure, payment,
      config_change, permission_change, llm_output, tool_call), so that the rules written for it apply.
    condition: |
      exists(action.type) &&
      action.type not in ["shell", "database", "http_request", "email", "message", "file_read", "file_write",
                          "file_delete", "git", "deploy", "infrastructure", "payment", "config_change",
                          "permission_change", "llm_output", "tool_call"]
  - id: governance.command-under-another-type
    principle: governance-integrity
    effect: escalate
    severity: medium
    message: A command sent under a type whose rules do not read commands
    recommendation: Send commands as shell or tool_call actions, so that the rules written for commands apply.
    condition: |
      action.type in ["email", "message", "payment", "llm_output", "http_request", "file_read"] &&
      (exists(action.arguments.command) || exists(action.arguments.cmd) || exists(action.arguments.argv) ||
       exists(action.arguments.script) || exists(action.arguments.shell))
  - id: governance.oversight-evasion
    principle: governance-integrity
    effect: deny
    severity: high
    message: Attempt to get around governance, approval or audit
    condition: |
      near(content,
           ["bypass*", "circumvent*", "evad*", "ignor*", "skip*", "avoid*", "hid*", "conceal*",
            "disabl*", "sidestep*", "defeat*", "dodg*"],
           ["governance", "guardrail*", "constitution*", "oversight", "approval*", "auditor*", "audit",
            "acgs"], 4) ||
      near(action.description,
           ["bypass*", "circumvent*", "evad*", "ignor*", "skip*", "avoid*", "hid*", "conceal*",
            "disabl*", "sidestep*", "defeat*", "dodg*"],
           ["governance", "guardrail*", "constitution*", "oversight", "approval*", "auditor*", "audit",
            "acgs"], 4)

  # ---------------------------------------------------------------- money movement
  - id: finance.large-transfer
    principle: financial-controls
    effect: escalate
    severity: high
    message: Payment above 10,000 needs human approval
    condition: |
      action.type == "payment" &&
      (number(action.arguments.amount) > 10000 || number(context.amount) > 10000)
  - id: finance.sanctioned-destination
    principle: financial-controls
    effect: deny
    severity: critical
    message: Payment to a sanctioned country
    condition: |
      action.type == "payment" &&
      (action.arguments.destination_country in context.sanctioned_countries ||
       upper(action.arguments.destination_country) in context.sanctioned_countries ||
       action.arguments.country in context.sanctioned_countries ||
       context.destination_country in context.sanctioned_countries)
  - id: finance.flagged-account
    principle: financial-controls
    effect: deny
    severity: critical
    message: Payment to a flagged account
    condition: |
      action.type == "payment" &&
      (action.arguments.destination in context.flagged_accounts ||
       action.arguments.account in context.flagged_accounts ||
       action.arguments.iban in context.flagged_accounts ||
       action.arguments.recipient in context.flagged_accounts ||
       context.destination in context.flagged_accounts)
  - id: finance.unverified-destination
    principle: financial-controls
    effect: deny
    severity: high
    message: Payment to an unverified destination
    recommendation: Verify the beneficiary through the vendor onboarding process first.
    condition: |
      action.type == "payment" && context.destination_verified == false
  - id: finance.crypto-transfer
    principle: financial-controls
    effect: escalate
    severity: high
    message: Cryptocurrency transfer needs human approval
    condition: |
      action.type == "payment" &&
      (upper(action.arguments.currency) in ["BTC", "ETH", "XMR", "USDT", "USDC", "LTC", "SOL", "DOGE", "TRX", "BNB"] ||
       containsAnyWord(action.arguments, ["bitcoin", "ethereum", "monero", "tether", "crypto", "cryptocurrency",
                                          "cryptocurrencies", "wallet address",
                                          "tornado cash", "mixer"]))
  - id: finance.drain-funds
    principle: financial-controls
    effect: escalate
    severity: high
    message: Request to move an entire balance or all funds
    condition: |
      (near(content, ["transfer*", "wire*", "withdraw*", "drain*", "send", "move", "moving", "sweep*", "liquidat*"],
            ["funds", "balance", "treasury", "savings", "money", "reserves"], 4) &&
       containsAnyWord(content, ["all", "entire", "whole", "full", "everything"]) &&
       !containsAnyWord(content, ["balance sheet"])) ||
      (near(action.description, ["transfer*", "wire*", "withdraw*", "drain*", "send", "move", "moving", "sweep*", "liquidat*"],
            ["funds", "balance", "treasury", "savings", "money", "reserves"], 4) &&
       containsAnyWord(action.description, ["all", "entire", "whole", "full", "everything"]) &&
       !containsAnyWord(action.description, ["balance sheet"]))
  - id: finance.payment-details-change
    principle: financial-controls
    effect: escalate
    severity: high
    message: Change of a payee's bank or payment details (a common fraud pattern)
    recommendation: Confirm the change with the payee through a known channel.
    condition: |
      ((near(content, ["chang*", "updat*", "replac*", "switch*", "modif*"],
             ["iban", "beneficiary", "routing", "swift", "bic", "bank", "remittance", "wire"], 3) ||
        containsAnyWord(content, ["new iban", "new bank details", "new account details", "new beneficiary",
                                  "new remittance", "new wire instructions", "new payment details", "new account number"])) &&
       containsAnyWord(content, ["vendor", "supplier", "payee", "invoice*", "payment*", "remit*", "pay", "wire"])) ||
      ((near(action.description, ["chang*", "updat*", "replac*", "switch*", "modif*"],
             ["iban", "beneficiary", "routing", "swift", "bic", "bank", "remittance", "wire"], 3) ||
        containsAnyWord(action.description, ["new iban", "new bank details", "new account details", "new beneficiary",
                                             "new remittance", "new wire instructions", "new payment details",
                                             "new account number"])) &&
       containsAnyWord(action.description, ["vendor", "supplier", "payee", "invoice*", "payment*", "remit*", "pay", "wire"]))

  # ---------------------------------------------------------------- production changes
  - id: production.deploy
    principle: production-change-control
    effect: escalate
    severity: high
    message: Deployment to production
    condition: |
      action.type == "deploy" &&
      (lower(context.environment) in ["production", "prod", "prd", "live"] ||
       lower(action.arguments.environment) in ["production", "prod", "prd", "live"])
  - id: production.migration
    principle: production-change-control
    effect: escalate
    severity: high
    message: Schema migration in production
    condition: |
      action.type in ["database", "shell", "tool_call", "deploy"] &&
      lower(context.environment) in ["production", "prod", "prd", "live"] &&
      containsAnyWord(action.arguments, [
        "migrat*", "alter table", "alembic upgrade", "flyway", "liquibase", "create index", "drop index",
        "add column", "drop column", "rename column"])
  - id: production.config-change
    principle: production-change-control
    effect: escalate
    severity: high
    message: Configuration change in production
    condition: |
      action.type == "config_change" && lower(context.environment) in ["production", "prod", "prd", "live"]
  - id: production.restart
    principle: production-change-control
    effect: escalate
    severity: medium
    message: Restarting, stopping or scaling production services
    condition: |
      action.type in ["shell", "tool_call"] && lower(context.environment) in ["production", "prod", "prd", "live"] &&
      containsAnyWord(action.arguments, [
        "restart", "reboot", "shutdown", "poweroff", "halt", "stop", "kill", "pkill", "killall", "scale",
        "drain", "cordon", "failover", "rollout undo", "rollback", "uninstall", "delete"])
  - id: production.infrastructure-change
    principle: production-change-control
    effect: escalate
    severity: high
    message: Infrastructure change in production
    condition: |
      action.type == "infrastructure" && lower(context.environment) in ["production", "prod", "prd", "live"]
  - id: production.data-write
    principle: production-change-control
    effect: escalate
    severity: medium
    message: Direct write to a production database
    recommendation: Use the application or a reviewed data fix.
    condition: |
      action.type == "database" && lower(context.environment) in ["production", "prod", "prd", "live"] &&
      istartsWith(action.arguments, ["insert", "update", "delete", "merge", "upsert", "replace", "grant", "revoke"])

  # ---------------------------------------------------------------- prompt injection
  - id: injection.in-content
    principle: resist-prompt-injection
    effect: deny
    severity: high
    message: Prompt injection in the content
    condition: |
      injection(content)
  - id: injection.in-arguments
    principle: resist-prompt-injection
    effect: escalate
    severity: high
    message: Prompt injection in the action's arguments
    condition: |
      injection(action.arguments) || injection(action.description)
  - id: injection.in-context
    principle: resist-prompt-injection
    effect: escalate
    severity: medium
    message: Prompt injection in retrieved context
    condition: |
      injection(context)

  # ---------------------------------------------------------------- harmful content
  - id: harm.explosives
    principle: no-harmful-content
    effect: deny
    severity: critical
    message: Instructions for making explosives or bombs
    condition: |
      (near(content,
            ["synthes*", "make", "making", "build", "building", "manufactur*", "assembl*", "cook", "cooking",
             "construct*", "recipe*", "ingredients", "instructions", "formula*", "mix", "mixing"],
            ["bomb", "bombs", "explosive", "explosives", "detonator", "detonators", "tatp", "petn", "rdx",
             "hmx", "semtex", "ied", "ieds", "nitroglycerin", "molotov", "blasting"], 5) &&
       !containsAnyWord(content, ["bath bomb*", "photobomb*", "bomb calorimet*", "seed bomb*", "bombshell",
                                  "bomb disposal", "bomb squad", "bomb threat*", "bomb scare",
                                  "bomb proof", "bombproof"])) ||
      near(action.description,
           ["synthes*", "make", "making", "build", "building", "manufactur*", "assembl*", "cook", "cooking",
            "construct*", "recipe*", "ingredients", "instructions", "formula*", "mix", "mixing"],
           ["bomb", "bombs", "explosive", "explosives", "detonator", "detonators", "tatp", "petn", "rdx",
            "hmx", "semtex", "ied", "ieds", "nitroglycerin", "molotov", "blasting"], 5)
  - id: harm.cbrn
    principle: no-harmful-content
    effect: deny
    severity: critical
    message: Instructions for chemical or biological weapons
    condition: |
      near(content,
           ["synthes*", "make", "making", "produc*", "manufactur*", "weaponi*", "cultivat*", "aerosoli*",
            "extract*", "purif*", "recipe*", "prepar*", "grow", "growing", "disperse", "dispersing", "release"],
           ["sarin", "tabun", "soman", "novichok", "vx", "ricin", "anthrax", "botulinum", "phosgene",
            "bioweapon*", "nerve", "pathogen*", "agent"], 6) &&
      containsAnyWord(content, [
        "sarin", "tabun", "soman", "novichok", "vx", "ricin", "anthrax", "botulinum", "phosgene",
        "bioweapon*", "nerve agent*", "nerve gas", "chemical weapon*", "biological weapon*", "mustard gas"]) &&
      !containsAnyWord(content, ["vaccin*", "treatment", "symptoms", "antidote*", "history", "detection",
                                 "decontaminat*", "exposure"])
  - id: harm.untraceable-firearms
    principle: no-harmful-content
    effect: deny
    severity: critical
    message: Instructions for untraceable or illegally converted firearms
    condition: |
      near(content, ["untraceable", "unserialized", "unserialised", "unregistered", "ghost", "homemade",
                     "diy", "3d", "printed", "printable"],
           ["gun", "guns", "firearm*", "pistol*", "rifle*", "receiver*", "lower", "lowers", "glock*", "ar15"], 4) ||
      (near(content, ["remov*", "fil*", "eras*", "grind*", "scratch*", "obliterat*", "defac*", "no", "without"],
            ["serial"], 3) &&
       containsAnyWord(content, ["gun", "guns", "firearm*", "pistol*", "rifle*", "weapon", "weapons"])) ||
      containsAnyWord(content, ["auto sear", "glock switch", "full auto conversion", "convert to full auto",
                                "lightning link", "80 lower"]) ||
      near(action.description, ["untraceable", "unserialized", "ghost", "homemade", "3d", "printed"],
           ["gun", "guns", "firearm*", "pistol*", "rifle*", "receiver*"], 4)
  - id: harm.self-harm-instructions
    principle: no-harmful-content
    effect: deny
    severity: critical
    message: Self-harm or suicide instructions
    recommendation: Offer crisis resources and hand the conversation to a person.
    condition: |
      containsAnyWord(content, [
        "suicide", "kill myself", "kill yourself", "end my life", "end your life", "take my own life",
        "take your own life", "self harm", "hang myself", "hang yourself", "overdose", "slit my wrists",
        "slit your wrists"]) &&
      containsAnyWord(content, [
        "how", "ways", "way to", "methods", "method", "instructions", "steps", "painless*", "lethal", "dose",
        "quickest", "easiest", "best way", "guide", "how many pills"]) &&
      !containsAnyWord(content, [
        "prevention", "hotline", "helpline", "crisis", "988", "get help", "support", "warning signs",
        "talk to someone", "treat", "treating", "naloxone", "narcan", "first aid", "emergency", "symptoms"])
  - id: harm.self-harm-risk
    principle: no-harmful-content
    effect: escalate
    severity: high
    message: Someone may be at risk of self-harm
    recommendation: Hand the conversation to a trained person and share crisis resources.
    condition: |
      containsAnyWord(content, [
        "kill myself", "end my life", "want to die", "wanna die", "take my own life", "hurt myself",
        "harm myself", "suicidal", "better off dead", "no reason to live", "hang myself", "end it all",
        "want to end it", "going to end it", "end it tonight", "don t want to live", "do not want to live",
        "don t want to be here anymore", "not want to wake up", "don t want to wake up"]) ||
      # a lethal amount asked about for oneself ("the lethal dose for someone my weight")
      (containsAnyWord(content, ["lethal dose", "fatal dose", "lethal amount", "overdose on", "how many pills"]) &&
       containsAnyWord(content, ["my weight", "for me", "i weigh", "myself", "i want", "i need", "tonight"]))
  - id: harm.dehumanizing-language
    principle: no-harmful-content
    effect: deny
    severity: high
    message: Dehumanising language about a protected group
    condition: |
      near(content,
           ["vermin", "subhuman*", "untermensch", "parasites", "cockroaches", "savages", "inferior",
            "filth", "scum", "mongrels", "infestation", "invaders"],
           ["jews", "jewish", "muslims", "muslim", "christians", "blacks", "whites", "asians", "hispanics",
            "latinos", "mexicans", "immigrants", "migrants", "refugees", "gays", "lesbians", "homosexuals",
            "transgender", "trans", "women", "arabs", "africans", "roma", "gypsies", "hindus", "sikhs",
            "chinese", "indians"], 4)
  - id: harm.violence-against-groups
    principle: no-harmful-content
    effect: deny
    severity: critical
    message: Call for violence against a group of people
    condition: |
      near(content, ["kill", "murder", "exterminat*", "eradicat*", "gas", "burn", "shoot", "hang", "lynch",
                     "slaughter", "massacre", "purge", "cleanse"],
           ["jews", "muslims", "christians", "blacks", "whites", "asians", "hispanics", "latinos", "mexicans",
            "immigrants", "migrants", "refugees", "gays", "lesbians", "homosexuals", "transgender", "trans",
            "women", "arabs", "africans", "roma", "gypsies", "hindus", "sikhs", "them"], 3) &&
      containsAnyWord(content, ["all", "every", "should", "must", "need to", "deserve", "lets", "let s",
                                "time to", "go out and"])
  - id: harm.threats-harassment
    principle: no-harmful-content
    effect: deny
    severity: high
    message: Threat or harassment directed at a person
    condition: |
      containsAnyWord(content, [
        "i will kill you", "i ll kill you", "gonna kill you", "going to kill you", "i know where you live",
        "watch your back", "you deserve to die", "hope you die", "kill yourself", "kys", "i will find you",
        "i will hurt you", "i ll hurt you", "going to hurt you", "rape you", "beat you up", "slit your throat",
        "you re dead", "you are dead meat", "dox you", "doxx you"])

  # ---------------------------------------------------------------- secure execution
  - id: security.pipe-to-shell
    principle: secure-execution
    effect: escalate
    severity: high
    message: Downloading and running a script without review
    recommendation: Download the script, review it, pin its checksum, then run it.
    condition: |
      action.type in ["shell", "tool_call"] &&
      containsAnyWord(action.arguments, ["curl", "wget", "iwr", "irm", "invoke webrequest", "invoke restmethod"]) &&
      contains(action.arguments, ["| sh", "|sh", "| bash", "|bash", "| sudo", "|sudo", "| zsh", "| python",
                                  "|python", "| iex", "|iex", "<(curl", "<(wget", "$(curl", "$(wget"])
  - id: security.obfuscated-execution
    principle: secure-execution
    effect: deny
    severity: high
    message: Running a command hidden in an encoding
    recommendation: Send the decoded command itself, so that it is judged for what it does.
    condition: |
      action.type in ["shell", "tool_call"] &&
      ((containsAnyWord(action.arguments, [
          "base64 d", "base64 decode", "base64 di", "base32 d", "base32 decode", "b64decode", "b32decode",
          "frombase64string", "xxd r", "xxd rp", "xxd r p", "openssl enc d", "openssl base64 d", "uudecode",
          "decode hex", "unhexlify"]) &&
        (contains(action.arguments, ["| sh", "|sh", "| bash", "|bash", "| zsh", "|zsh", "| dash", "| sudo", "|sudo",
                                     "| python", "|python", "| perl", "|perl", "| ruby", "| node", "| iex", "|iex",
                                     "| source", "| powershell", "| pwsh"]) ||
         containsAnyWord(action.arguments, ["eval", "exec", "iex", "invoke expression", "sh c", "bash c", "zsh c",
                                            "system", "popen", "subprocess", "os system"]))) ||
       near(action.arguments, ["powershell*", "pwsh*"], ["encodedcommand", "enc", "ec", "e"], 8))
  - id: security.world-writable
    principle: secure-execution
    effect: deny
    severity: high
    message: Making a directory tree or a system path writable by everyone
    recommendation: Grant the specific user or group the access it needs (chown, chgrp, or a narrower mode).
    condition: |
      action.type in ["shell", "tool_call", "infrastructure"] &&
      containsAnyWord(action.arguments, ["chmod"]) &&
      (containsAnyWord(action.arguments, [
         "chmod r 777", "chmod r 0777", "chmod 777 r", "chmod r 666", "chmod r a rwx", "chmod r ugo rwx",
         "chmod r o w", "chmod r a w", "chmod r o rwx", "chmod recursive 777", "chmod recursive a rwx",
         "chmod recursive o w", "chmod 777 recursive"]) ||
       matches(action.arguments,
               "chmod\s+(-\S+\s+)*(0?777|0?666|a\+rwx|ugo\+rwx|o\+w|a\+w)\s+(-\S+\s+)*['\"]?(/(etc|usr|bin|sbin|boot|lib|lib64|root|opt|srv)(/\S*)?|(/|~|/var|/home)/?\*?['\"]?(\s|;|&|$))"))
  - id: security.reverse-shell
    principle: secure-execution
    effect: deny
    severity: critical
    message: Opening a reverse or bind shell
    condition: |
      action.type in ["shell", "tool_call"] &&
      (containsAnyWord(action.arguments, [
         "dev tcp", "dev udp", "nc e", "ncat e", "netcat e", "nc c", "nc lvp", "nc nlvp", "ncat exec",
         "socat exec", "mkfifo tmp", "pty spawn", "meterpreter", "reverse shell"]) ||
       containsAllWords(action.arguments, ["socket", "subprocess", "dup2"]))
  - id: security.disable-security-controls
    principle: secure-execution
    effect: deny
    severity: high
    message: Switching off a firewall, SELinux, antivirus or endpoint protection
    condition: |
      action.type in ["shell", "tool_call", "config_change", "infrastructure"] &&
      (containsAnyWord(action.arguments, [
         "setenforce 0", "ufw disable", "iptables f", "iptables flush", "disablerealtimemonitoring",
         "advfirewall set allprofiles state off", "aa teardown", "csrutil disable", "spctl master disable",
         "selinux disabled"]) ||
       near(action.arguments, ["disabl*", "stop", "kill", "uninstall*", "turn", "off", "remov*"],
            ["firewall*", "firewalld", "selinux", "apparmor", "antivirus", "defender", "crowdstrike",
             "falcon", "edr", "sentinelone", "clamav", "waf"], 3))
  - id: security.credential-dumping
    principle: secure-execution
    effect: deny
    severity: critical
    message: Credential dumping tool or technique
    condition: |
      action.type in ["shell", "tool_call"] &&
      containsAnyWord(action.arguments, [
        "mimikatz", "lsass", "secretsdump", "hashdump", "lazagne", "sekurlsa*", "ntds dit", "pypykatz"])
  - id: security.insecure-tls
    principle: secure-execution
    effect: warn
    severity: medium
    message: TLS certificate verification switched off
    recommendation: Fix the certificate chain instead of disabling verification.
    condition: |
      action.type in ["shell", "tool_call", "http_request", "config_change"] &&
      (containsAnyWord(action.arguments, ["curl k", "insecure", "no check certificate",
                                          "node tls reject unauthorized 0", "verify false", "sslverify false",
                                          "tls skip verify", "insecure skip verify"]) ||
       action.arguments.verify == false || action.arguments.verify_tls == false ||
       action.arguments.insecure == true)
"""#
}
