"""`make mail [SHOW=N]`: the mails `make run`'s local mail catcher kept
(scripts/mail_catcher.sh), newest last: one line each, or the text of
message N. Nothing leaves the machine in development; this is where a
welcome mail, an invoice or a reminder can be read.

    scripts/mail.py [--dir .local/mail] [--show N]
"""

import argparse
import email.policy
import mailbox
from email.utils import parsedate_to_datetime
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent.parent / ".local" / "mail"


def messages(folder):
    """The Maildir's messages, oldest first."""
    box = mailbox.Maildir(folder, create=False)
    found = [
        email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        for key in box.iterkeys()
    ]
    return sorted(found, key=_sent_at)


def _sent_at(message):
    try:
        return parsedate_to_datetime(message["Date"]).timestamp()
    except (TypeError, ValueError):
        return 0.0


def text_of(message):
    """The plain text of ``message`` (its HTML part's text when it has no
    plain one)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_subtype() == "html":
        from html.parser import HTMLParser

        class Text(HTMLParser):
            def __init__(self):
                super().__init__()
                self.chunks = []

            def handle_data(self, data):
                self.chunks.append(data)

        reader = Text()
        reader.feed(content)
        content = " ".join(" ".join(reader.chunks).split())
    return content


class Parser(argparse.ArgumentParser):
    """Bad arguments in one line, exit 2, as the other commands."""

    def error(self, message):
        self.exit(2, f"error: {message}\n")


def main():
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--show", type=int, help="print message N (1 is the oldest)")
    args = parser.parse_args()
    found = messages(args.dir) if (args.dir / "cur").is_dir() else []
    if not found:
        print(f"no mail caught yet in {args.dir} (`make run` starts the catcher)")
        return
    if args.show is not None:
        if not 1 <= args.show <= len(found):
            parser.error(f"--show takes 1 to {len(found)}, not {args.show}")
        message = found[args.show - 1]
        for header in ("Date", "From", "To", "Subject"):
            print(f"{header}: {message[header]}")
        print()
        print(text_of(message))
        return
    for number, message in enumerate(found, 1):
        print(f"{number:>4}  {message['Date']}  {message['From']} -> {message['To']}")
        print(f"      {message['Subject']}")
    print(f"{len(found)} mail(s) in {args.dir}")


if __name__ == "__main__":
    main()
