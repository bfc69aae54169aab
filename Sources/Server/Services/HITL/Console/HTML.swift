/// Building the console's pages: every value from data goes through `escape`, and no page carries
/// inline script (the only script is `/console/assets/console.js`, allowed by the page's CSP).
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func page(title: String, signedInAs user: String?, csrf: String?, body: String) -> String {
        var header = ""
        if let user, let csrf {
            header = """
                <form method="post" action="/console/logout" class="signout">
                <span>Signed in as \(escape(user))</span>
                <input type="hidden" name="csrf" value="\(escape(csrf))">
                <button type="submit">Sign out</button>
                </form>
                """
        }
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · ACGS-2 review</title>
            <link rel="stylesheet" href="/console/assets/console.css">
            <script src="/console/assets/console.js" defer></script>
            </head>
            <body>
            <header><a href="/console" class="brand">ACGS-2 human review</a>\(header)</header>
            <main id="main">
            <h1>\(escape(title))</h1>
            \(body)
            </main>
            </body>
            </html>
            """
    }

    /// Counts down to `deadline` (RFC 3339) once the script runs; the time itself shows without it.
    static func deadline(_ text: String) -> String {
        #"<time datetime="\#(escape(text))" data-countdown>\#(escape(text))</time>"#
    }

    static let script = """
        // Deadlines count down; the pages work without this script.
        function tick() {
          for (const el of document.querySelectorAll('time[data-countdown]')) {
            const left = Math.round((Date.parse(el.getAttribute('datetime')) - Date.now()) / 1000);
            const abs = Math.abs(left), m = Math.floor(abs / 60), s = abs % 60;
            el.textContent = (left < 0 ? 'overdue by ' : 'in ') + m + ' min ' + String(s).padStart(2, '0') + ' s';
          }
        }
        document.addEventListener('DOMContentLoaded', () => { tick(); setInterval(tick, 1000); });
        """

    static let style = """
        body { font-family: system-ui, sans-serif; margin: 0; color: #111; background: #fafafa; }
        header { display: flex; justify-content: space-between; align-items: center; padding: .75rem 1.5rem; background: #1f2937; color: #fff; }
        header a, header span { color: #fff; margin-right: 1rem; }
        main { max-width: 70rem; margin: 1.5rem auto; padding: 0 1.5rem; }
        table { border-collapse: collapse; width: 100%; background: #fff; }
        th, td { text-align: left; padding: .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
        pre { background: #f3f4f6; padding: .75rem; overflow-x: auto; }
        label { display: block; margin-top: .75rem; font-weight: 600; }
        input, textarea, select { font: inherit; padding: .4rem; width: 100%; max-width: 40rem; box-sizing: border-box; }
        button { font: inherit; padding: .5rem 1rem; margin-top: 1rem; cursor: pointer; }
        :focus-visible { outline: 3px solid #2563eb; outline-offset: 2px; }
        .error { color: #991b1b; background: #fee2e2; padding: .5rem; }
        .signout { display: inline; }
        """
}
