"""The small static site the corpus is recorded against, and the wordlist the tools use.

Everything here is written for the corpus (no third-party content): a home page, six news
articles, a products page with a query string, an about page, a contact page and a login form,
each page with its stylesheet, script, logo, icon and a picture or two — so a browser fetching a
page fetches five to eight sub-resources with it, as on a real site. Two links are broken on
purpose (a removed article, a missing image): people hit 404s too. ``/login`` answers 401 and
``/admin/`` 403 (see ``nginx.conf.template``).
"""

from __future__ import annotations

from pathlib import Path

ARTICLES = (
    ("water", "Water utilities join the exercise"),
    ("patching", "Patching within a day: what it takes"),
    ("sbom", "Why every supplier now ships an SBOM"),
    ("drill", "Notes from the regional drill"),
    ("grid", "Grid operators share their playbook"),
    ("clinic", "A clinic's first incident report"),
)

_CSS = """body { font-family: sans-serif; margin: 0; color: #222; }
header { background: #234; color: #fff; padding: 1em; display: flex; gap: 1em; }
header a { color: #fff; }
main { max-width: 48em; margin: 2em auto; line-height: 1.5; }
img.hero { width: 100%; height: auto; }
form label { display: block; margin-top: 1em; }
footer { color: #666; font-size: 0.8em; text-align: center; padding: 2em; }
"""

_JS = """document.addEventListener("DOMContentLoaded", function () {
  var year = document.getElementById("year");
  if (year) { year.textContent = String(new Date().getFullYear()); }
});
"""

_LOGIN_JS = """document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form");
  if (form) { form.addEventListener("submit", function () { form.classList.add("busy"); }); }
});
"""


def _svg(label: str, colour: str, width: int = 640, height: int = 240) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<rect width="100%" height="100%" fill="{colour}"/>'
        f'<text x="20" y="{height // 2}" font-size="32" fill="#fff">{label}</text></svg>\n'
    )


def _page(title: str, body: str, extra_head: str = "") -> str:
    nav = " ".join(
        f'<a href="{href}">{name}</a>'
        for href, name in (
            ("/", "Home"),
            ("/news/", "News"),
            ("/products.html?category=guides&page=1", "Products"),
            ("/about.html", "About"),
            ("/contact.html", "Contact"),
            ("/login.html", "Sign in"),
        )
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} — Harbour Civic Defence</title>
<link rel="stylesheet" href="/static/css/site.css">
<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">
<script src="/static/js/site.js" defer></script>{extra_head}
</head>
<body>
<header><img src="/static/img/logo.svg" alt="logo" width="40" height="40"> {nav}</header>
<main>
<h1>{title}</h1>
{body}
</main>
<footer>© <span id="year">2026</span> Harbour Civic Defence (a corpus site)</footer>
</body>
</html>
"""


def build_site(root: Path) -> None:
    """Write the site below ``root``."""
    files: dict[str, str] = {
        "static/css/site.css": _CSS,
        "static/js/site.js": _JS,
        "static/js/login.js": _LOGIN_JS,
        "static/img/logo.svg": _svg("HCD", "#234", 40, 40),
        "static/img/favicon.svg": _svg("H", "#234", 16, 16),
        "static/img/home.svg": _svg("Welcome", "#356"),
        "static/img/products.svg": _svg("Guides", "#563"),
        "static/img/team.svg": _svg("Our team", "#635"),
        "robots.txt": "User-agent: *\nDisallow: /admin/\n",
    }
    items = "\n".join(
        f'<li><a href="/news/{slug}.html">{title}</a></li>' for slug, title in ARTICLES
    )
    files["index.html"] = _page(
        "Welcome",
        '<img class="hero" src="/static/img/home.svg" alt="">\n'
        "<p>Civic defence news for the harbour district.</p>\n"
        f"<ul>\n{items}\n"
        '<li><a href="/news/ferry.html">The ferry exercise (archived)</a></li>\n</ul>',
    )
    files["news/index.html"] = _page("News", f"<ul>\n{items}\n</ul>")
    for number, (slug, title) in enumerate(ARTICLES):
        picture = f"/static/img/news-{slug}.svg"
        files[picture.lstrip("/")] = _svg(title[:24], "#4" + "0123456789"[number] + "6")
        extra = '<img src="/static/img/missing-chart.svg" alt="chart">' if number == 3 else ""
        following = ARTICLES[(number + 1) % len(ARTICLES)]
        files[f"news/{slug}.html"] = _page(
            title,
            f'<img class="hero" src="{picture}" alt="">{extra}\n'
            + "<p>"
            + " ".join([f"{title} — paragraph text of the article."] * 12)
            + "</p>\n"
            f'<p>Next: <a href="/news/{following[0]}.html">{following[1]}</a></p>',
        )
    files["products.html"] = _page(
        "Products",
        '<img class="hero" src="/static/img/products.svg" alt="">\n'
        '<p><a href="/products.html?category=guides&page=2">Next page</a> · '
        '<a href="/products.html?category=posters&page=1">Posters</a></p>',
    )
    files["about.html"] = _page(
        "About", '<img class="hero" src="/static/img/team.svg" alt="">\n<p>Who we are.</p>'
    )
    files["contact.html"] = _page("Contact", "<p>Write to the district office.</p>")
    files["login.html"] = _page(
        "Sign in",
        '<form method="post" action="/login">\n'
        '<label>User <input name="user"></label>\n'
        '<label>Password <input name="password" type="password"></label>\n'
        "<button>Sign in</button>\n</form>",
        '\n<script src="/static/js/login.js" defer></script>',
    )
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


#: Words of the tools' wordlist: directories and files commonly probed on web servers, plus a
#: few the site has (so the tools find something).
_WORD_TEXT = """
about about.html account accounts admin administrator admin.php adminer api apis app apps
archive archives assets auth backup backups bak bin blog board cache cart cgi-bin changelog
checkout cms config configuration console contact contact.html content cp cpanel css dashboard
data database db debug default demo dev devel docs documents download downloads dump edit
email error errors export feed files forum ftp gallery git help home hidden images img import
inc include includes index index.html info install js json lib library log login login.html
logs mail manage manager media members misc monitor new news old panel password passwords
php phpinfo phpmyadmin pma portal private products products.html profile public register
reports robots.txt root rss sample scripts search secret secure server-status service services
setup shell shop site sitemap sitemap.xml sql src staff static stats status storage system
temp test tests tmp tools upload uploads user users v1 v2 vendor web webadmin wiki wp
wp-admin wp-content wp-includes wp-login.php xml xmlrpc.php
"""
_WORDS = _WORD_TEXT.split()

_SUFFIXES = ("", ".php", ".bak", ".old", ".txt", ".zip")


def wordlist() -> list[str]:
    """About 900 entries: every word, and every word without a dot with common suffixes."""
    out: list[str] = []
    for word in _WORDS:
        suffixes = ("",) if "." in word else _SUFFIXES
        out.extend(word + suffix for suffix in suffixes)
    return out
