// A Server-Sent Events parser for a fetch() body. EventSource cannot send an Authorization
// header, so the console reads the stream itself. It follows the WHATWG "event stream"
// interpretation: lines end in CRLF, LF or CR; "data" lines join with LF; a blank line
// dispatches; lines starting with ":" are comments (keep-alives).

export class SseParser {
  constructor() {
    this.buffer = "";
    this.reset();
    this.lastEventId = "";
  }

  reset() {
    this.event = "";
    this.data = [];
  }

  /** Feed text; returns the events completed by it: [{event, data, id}]. */
  push(text) {
    this.buffer += text;
    const events = [];
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this.buffer);
      if (!match) break;
      // A CR at the very end may be the first half of a CRLF: wait for more.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  line(line) {
    if (line === "") {
      if (this.data.length === 0) {
        this.reset();
        return null;
      }
      const event = {
        event: this.event || "message",
        data: this.data.join("\n"),
        id: this.lastEventId,
      };
      this.reset();
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    return null;
  }
}
