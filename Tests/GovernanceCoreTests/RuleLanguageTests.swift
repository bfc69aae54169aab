import Testing

@testable import GovernanceCore

/// Builds a one-principle constitution around the given rules (id → effect, condition).
func constitution(_ rules: [(String, Effect, String)], name: String = "Test") throws -> CompiledConstitution {
    let doc = ConstitutionDocument(
        name: name, version: "1.0.0",
        principles: [Principle(id: "p", title: "P", description: "d", category: "c", severity: .high)],
        rules: rules.map { RuleDefinition(id: $0.0, principle: "p", effect: $0.1, severity: .high, message: "m \($0.0)", condition: $0.2) })
    return try CompiledConstitution(doc)
}

func matches(_ condition: String, _ input: JudgedInput) throws -> Bool {
    try !constitution([("r", .deny, condition)]).evaluate(input).violations.isEmpty
}

func compileError(_ condition: String) -> RuleSyntaxError? {
    do {
        var compiler = RuleCompiler()
        _ = try compiler.compileBoolean(try Parser.parse(condition))
        return nil
    } catch {
        return error
    }
}

let shell = JudgedInput(
    action: ["type": "shell", "tool": "bash", "arguments": ["command": "rm -rf /tmp/build", "flags": ["-v", "--force"]], "target": "https://files.example.com/upload"],
    content: "Please clean up the build directory, then drop me a line.",
    context: ["environment": "production", "amount": 15000, "currency": "USD", "approved": true, "limit": "12,500"],
    agent: ["id": "agent-7", "roles": ["agent", "deployer"]])

@Suite("Rule language")
struct RuleLanguageTests {
    @Test(arguments: [
        (#"action.type == "shell""#, true),
        (#"action.type != "shell""#, false),
        (#"action.type == "database""#, false),
        (#"context.amount > 10000"#, true),
        (#"context.amount >= 15000 && context.amount <= 15000"#, true),
        (#"context.amount < 100"#, false),
        (#"context.missing > 1"#, false),
        (#"context.missing == null"#, true),
        (#"context.approved"#, true),
        (#"!context.approved"#, false),
        (#"context.environment in ["production", "prod"]"#, true),
        (#"context.environment not in ["production", "prod"]"#, false),
        // Short lists are compared one by one, long ones hashed: the same answers, types kept apart.
        (#"context.amount in [15000]"#, true),
        (#"context.amount in ["15000"]"#, false),
        (#"context.approved in ["true", 1, true]"#, true),
        (#"context.environment in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "production"]"#, true),
        (#"context.environment in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "prod"]"#, false),
        (#"context.amount in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "15000"]"#, false),
        (#"hasAny(agent.roles, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "deployer"])"#, true),
        (#""deployer" in agent.roles"#, true),
        (#""prod" in context.environment"#, true),
        (#""currency" in context"#, true),
        (#"action.arguments.flags[1] == "--force""#, true),
        (#"action.arguments["command"] == "rm -rf /tmp/build""#, true),
        (#"contains(action.arguments.command, "rm -rf")"#, true),
        (#"action.arguments.command.contains("RM -RF")"#, false),
        (#"icontains(action.arguments.command, "RM -RF")"#, true),
        (#"startsWith(action.arguments.command, "rm ")"#, true),
        (#"endsWith(action.arguments.command, "/build")"#, true),
        (#"iequals(context.environment, "PRODUCTION")"#, true),
        (#"contains(action.arguments, ["nothing", "--force"])"#, true),
        (#"matches(action.arguments.command, "rm\s+-[a-z]*r")"#, true),
        (#"matches(content, "(?i)^please")"#, true),
        (#"containsAnyWord(content, ["drop table", "truncate"])"#, false),
        (#"containsAnyWord(content, ["drop me a line"])"#, true),
        (#"containsAnyWord(content, ["clean*"])"#, true),
        (#"containsAnyWord(content, ["lean"])"#, false),
        (#"containsAllWords(content, ["build", "directory"])"#, true),
        (#"containsAllWords(content, ["build", "database"])"#, false),
        (#"near(content, ["clean"], ["directory"], 4)"#, true),
        (#"near(content, ["clean"], ["directory"], 3)"#, false),
        (#"near(content, ["please"], ["line"], 3)"#, false),
        (#"hostIn(action.target, ["example.com"])"#, true),
        (#"hostIn(action.target, ["ample.com"])"#, false),
        (#"hasAny(agent.roles, ["admin", "deployer"])"#, true),
        (#"size(action.arguments.flags) == 2"#, true),
        (#"size(content) > 10"#, true),
        (#"lower(context.currency) == "usd""#, true),
        (#"number(context.limit) > 12000"#, true),
        (#"exists(action.tool) && !exists(action.nothing)"#, true),
        (#"action.type == "shell" || 1 > 2"#, true),
        (#"(action.type == "git" || action.tool == "bash") && context.amount > 1_000"#, true),
    ])
    func evaluates(condition: String, expected: Bool) throws {
        #expect(try matches(condition, shell) == expected, "\(condition)")
    }

    @Test(arguments: [
        (#"action.type = "shell""#, "'=='"),
        (#"action.type == "shell" &&"#, "expected a value"),
        (#"(action.type == "shell""#, "expected ')'"),
        (#"actoin.type == "shell""#, "unknown name 'actoin'"),
        (#"frobnicate(content)"#, "unknown function 'frobnicate'"),
        (#"contains(content)"#, "takes 2 arguments"),
        (#"contains(content, 42)"#, "expects a string"),
        (#"matches(content, "([a-z")"#, "invalid regular expression"),
        (#"pii(content, ["passport_number_x"])"#, "unknown pii kind"),
        (#""a" < 3"#, "cannot order"),
        (#"true < false"#, "compares numbers or strings"),
        (#""shell""#, "expected a condition"),
        (#"action.type == "shell" action.tool"#, "after a complete expression"),
        (#"near(content, ["a b"], ["c"], 2)"#, "single words"),
        (#"content == "unterminated"#, "unterminated string"),
        (#""#, "empty condition"),
    ])
    func reportsErrors(condition: String, fragment: String) throws {
        let error = try #require(compileError(condition), "\(condition) should not compile")
        #expect(error.message.contains(fragment), "\(error.message)")
    }

    @Test func errorOffsetPointsAtTheProblem() throws {
        let error = try #require(compileError(#"action.type == "shell" && frob(content)"#))
        #expect(error.offset == 26)
    }

    @Test func evidenceNamesFieldAndMatchedText() throws {
        let c = try constitution([("r", .deny, #"containsAnyWord(action.arguments, ["rm -rf"]) && context.amount > 100"#)])
        let v = try #require(c.evaluate(shell).violations.first)
        #expect(v.evidence.contains(Evidence(field: "action.arguments.command", match: "rm -rf")))
        #expect(v.evidence.contains(Evidence(field: "context.amount", match: "15000")))
    }

    /// A command given as an argument vector reads as its command line for the word functions and
    /// regular expressions; the string functions and detectors still see each item as given.
    @Test func anArgumentVectorReadsAsItsCommandLine() throws {
        let argv = JudgedInput(action: ["type": "shell", "arguments": ["argv": ["sudo", "rm", "-rf", "/var/lib"], "note": ["a@example.com", "x"]]])
        #expect(try matches(#"containsAnyWord(action.arguments, ["rm rf"])"#, argv))
        #expect(try matches(#"containsAnyWord(action.arguments.argv, ["sudo rm"])"#, argv))
        #expect(try matches(#"near(action.arguments, ["sudo"], ["var"], 4)"#, argv))
        #expect(try matches(#"matches(action.arguments, "rm\s+-rf\s+/")"#, argv))
        #expect(try !matches(#"contains(action.arguments, ["rm -rf"])"#, argv), "contains reads each item as given")
        #expect(try !matches(#"containsAnyWord(action.arguments.argv[1], ["rm rf"])"#, argv), "one item is only itself")
        let v = try #require(try constitution([("r", .deny, #"containsAnyWord(action.arguments, ["rm rf"])"#)]).evaluate(argv).violations.first)
        #expect(v.evidence == [Evidence(field: "action.arguments.argv", match: "rm -rf")])
        let pii = try #require(try constitution([("r", .deny, #"pii(action.arguments)"#)]).evaluate(argv).violations.first)
        #expect(pii.evidence.count == 1, "a detector finds the address once, in its item: \(pii.evidence)")
        #expect(pii.evidence.first?.field == "action.arguments.note[0]")
        // Only arrays of strings are joined, and only those of two or more.
        let mixed = JudgedInput(action: ["arguments": ["argv": ["rm", 1, "-rf"], "one": ["rm -rf"]]])
        #expect(try !matches(#"containsAnyWord(action.arguments.argv, ["rm rf"])"#, mixed))
        #expect(try matches(#"containsAnyWord(action.arguments.one, ["rm rf"])"#, mixed))
    }

    @Test func evidenceUnderNegationIsDropped() throws {
        let c = try constitution([("r", .deny, #"!containsAnyWord(content, ["nothing"]) && !(action.type == "git")"#)])
        let v = try #require(c.evaluate(shell).violations.first)
        #expect(v.evidence.isEmpty)
    }

    @Test func evidenceIsMasked() throws {
        let input = JudgedInput(action: ["type": "email", "arguments": ["to": "jane.doe@example.com"]])
        let c = try constitution([("r", .deny, #"action.arguments.to == "jane.doe@example.com""#)])
        let v = try #require(c.evaluate(input).violations.first)
        #expect(!v.evidence.contains { $0.match.contains("jane.doe") })
    }
}

@Suite("Decisions")
struct DecisionTests {
    @Test func denyBeatsEscalateBeatsWarn() throws {
        let c = try constitution([
            ("w", .warn, #"action.type == "shell""#), ("e", .escalate, #"context.environment == "production""#),
            ("d", .deny, #"contains(action.arguments.command, "rm -rf")"#),
        ])
        let all = c.evaluate(shell)
        #expect(all.outcome == .deny)
        #expect(all.violations.map(\.ruleId) == ["w", "e", "d"])
        #expect(!all.compliant)
        let onlyEscalate = c.evaluate(JudgedInput(action: ["type": "shell", "arguments": ["command": "ls"]], context: ["environment": "production"]))
        #expect(onlyEscalate.outcome == .escalate)
        let onlyWarn = c.evaluate(JudgedInput(action: ["type": "shell", "arguments": ["command": "ls"]]))
        #expect(onlyWarn.outcome == .allow)
        #expect(onlyWarn.violations.map(\.effect) == [.warn])
        #expect(onlyWarn.violatedPrinciples.isEmpty)
        let clean = c.evaluate(JudgedInput(content: "hello"))
        #expect(clean.outcome == .allow && clean.violations.isEmpty && clean.score == 1)
        #expect(clean.reasoning.contains("no rule"))
    }

    @Test func scoreFallsWithSeverityAndEffect() throws {
        let c = try constitution([("e", .escalate, #"context.environment == "production""#)])
        let e = c.evaluate(shell)
        #expect(e.score == 0.7)  // high (0.6) × escalate (0.5)
    }

    @Test func principlesFilterLimitsEvaluation() throws {
        let doc = ConstitutionDocument(
            name: "T", version: "1",
            principles: [
                Principle(id: "a", title: "A", description: "", category: "c", severity: .low),
                Principle(id: "b", title: "B", description: "", category: "c", severity: .low),
            ],
            rules: [
                RuleDefinition(id: "ra", principle: "a", effect: .deny, severity: .low, message: "a", condition: #"action.type == "shell""#),
                RuleDefinition(id: "rb", principle: "b", effect: .deny, severity: .low, message: "b", condition: #"content != null"#),
            ])
        let c = try CompiledConstitution(doc)
        #expect(c.evaluate(shell).violations.map(\.ruleId) == ["ra", "rb"])
        #expect(c.evaluate(shell, principles: ["b"]).violations.map(\.ruleId) == ["rb"])
    }

    @Test func identicalInputsGiveIdenticalDecisions() throws {
        let c = try constitution([("d", .deny, #"containsAnyWord(input, ["rm -rf"])"#), ("w", .warn, #"context.amount > 10"#)])
        #expect(c.evaluate(shell) == c.evaluate(shell))
    }

    @Test func indexedRulesRunOnlyForTheirTypeOrTool() throws {
        let c = try constitution([
            ("t", .deny, #"action.type == "shell" && content != null"#),
            ("u", .deny, #"action.tool in ["psql", "mysql"] && content != null"#),
            ("g", .warn, #"content != null"#),
        ])
        #expect(c.byType["shell"] == [0])
        #expect(c.byTool["psql"] == [1] && c.byTool["mysql"] == [1])
        #expect(c.general == [2])
        #expect(c.evaluate(shell).violations.map(\.ruleId) == ["t", "g"])
        let sql = JudgedInput(action: ["type": "database", "tool": "psql"], content: "x")
        #expect(c.evaluate(sql).violations.map(\.ruleId) == ["u", "g"])
    }

    /// An agent names its own action's type and tool: a change of case, white space around it or an
    /// invisible character must not take the action out of the rules written for it.
    @Test(arguments: ["Shell", "SHELL", " shell ", "shell\u{0}", "she\u{200B}ll", "\tshell\n"])
    func typeAndToolAreComparedAsIdentifiers(type: String) throws {
        let c = try constitution([
            ("typed", .deny, #"action.type == "shell" && containsAnyWord(action.arguments, ["rm rf"])"#),
            ("listed", .deny, #"action.type in ["Shell", "tool_call"] && action.tool != "BASH2""#),
            ("tooled", .escalate, #"action.tool == "Bash""#),
        ])
        let input = JudgedInput(action: ["type": .string(type), "tool": "bash ", "arguments": ["command": "rm -rf /"]])
        #expect(c.evaluate(input).violations.map(\.ruleId) == ["typed", "listed", "tooled"])
        #expect(c.evaluate(input).outcome == .deny)
        // Other fields are compared as written.
        #expect(try !matches(#"action.target == "prod""#, JudgedInput(action: ["type": "shell", "target": "PROD"])))
    }

    @Test func theReferenceConstitutionDeniesARecursiveDeleteWhateverTheCaseOfItsType() throws {
        let reference = try CompiledConstitution(source: ReferenceConstitution.source)
        for type in ["shell", "Shell", "SHELL", "shell\u{0}"] {
            let input = JudgedInput(action: ["type": .string(type), "tool": "bash", "arguments": ["command": "rm -rf /srv/data"]])
            #expect(reference.evaluate(input).outcome == .deny, "type \(type.debugDescription)")
        }
    }

    @Test func foldingLeavesPlainIdentifiersAndInnerSpacesAlone() {
        #expect(ActionIdentifier.fold("file_read") == "file_read")
        #expect(ActionIdentifier.fold("k8s/apply:v1.2") == "k8s/apply:v1.2")
        #expect(ActionIdentifier.fold(" Git Push ") == "git push")
        #expect(ActionIdentifier.fold("\u{FEFF}Shell\u{200D}") == "shell")
        #expect(ActionIdentifier.fold("ÉCRIRE") == "écrire")
    }
}

@Suite("Rule language edge cases")
struct RuleLanguageEdgeCaseTests {
    @Test(arguments: [
        ("I’ll kill you", #"containsAnyWord(content, ["i ll kill you"])"#, true),
        ("delete—all—tables", #"near(content, ["delete"], ["tables"], 3)"#, true),
        ("Überweisung an Müller", #"containsAnyWord(content, ["müller"])"#, true),
        ("see https://ok.com/a and https://evil.com/x", #"hostIn(content, ["evil.com"])"#, true),
        ("mail bob@Evil.com please", #"hostIn(content, ["evil.com"])"#, true),
        ("upload to files.evil.com:8443/drop", #"hostIn(content, ["evil.com"])"#, true),
        ("notevil.com is fine", #"hostIn(content, ["evil.com"])"#, false),
        ("evil.community", #"hostIn(content, ["evil.com"])"#, false),
    ])
    func matchesAcrossScriptsAndHosts(content: String, condition: String, expected: Bool) throws {
        #expect(try matches(condition, JudgedInput(content: .string(content))) == expected, "\(condition) on \(content)")
    }

    @Test func missingFieldsCompareAsNull() throws {
        let input = JudgedInput(content: "x", context: ["present": 1])
        #expect(try matches(#"context.missing != "x""#, input))
        #expect(try matches(#"context.missing == null"#, input))
        #expect(try !matches(#"context.missing < 1 || context.missing >= 1"#, input))
        #expect(try !matches(#"contains(context.missing, "x")"#, input))
    }
}
