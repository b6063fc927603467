// Requests the ordinary helper cannot make: a body streamed chunk by chunk (declared with a
// Content-Length or sent chunked) that stops as soon as the server answers, so a test can tell that
// the server refused a large body without reading it. Written on a bare node:tls socket, because an
// HTTP client may drop an early answer once its own writes fail (Deno's node:http reports only the
// EPIPE).
import { connect } from 'node:tls';

export interface StreamedResult {
  status: number;
  text: string;
  /** Body bytes the client had written when the answer came. */
  written: number;
  headers: Record<string, string>;
}

export function streamBody(
  url: string,
  options: {
    ca: string;
    cert?: string;
    key?: string;
    method?: string;
    headers: Record<string, string>;
    /** Total body bytes to offer. */
    size: number;
    /** true: no Content-Length, Transfer-Encoding: chunked. */
    chunked?: boolean;
    fill?: string;
    timeoutMs?: number;
  },
): Promise<StreamedResult> {
  const target = new URL(url);
  const chunk = Buffer.alloc(64 * 1024, options.fill ?? 'a');
  const headers: Record<string, string> = { host: target.host, ...options.headers };
  if (options.chunked) headers['transfer-encoding'] = 'chunked';
  else headers['content-length'] = String(options.size);
  const head = `${options.method ?? 'POST'} ${target.pathname}${target.search} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

  return new Promise((resolve, reject) => {
    let written = 0;
    let answeredAt: number | undefined;
    let received = Buffer.alloc(0);
    const socket = connect({
      host: target.hostname,
      port: Number(target.port),
      servername: target.hostname,
      ca: options.ca,
      cert: options.cert,
      key: options.key,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${options.timeoutMs ?? 10_000} ms (${written} bytes written)`));
    }, options.timeoutMs ?? 10_000);
    const finish = () => {
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(parsed['content-length'] ?? 0);
      const body = received.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
      if (body.length < length) return false;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        status: Number(statusLine?.split(' ')[1]),
        text: body.subarray(0, length).toString('utf8'),
        written: answeredAt ?? written,
        headers: parsed,
      });
      return true;
    };
    socket.on('data', (data: Buffer) => {
      answeredAt ??= written;
      received = Buffer.concat([received, data]);
      finish();
    });
    // Once the server has answered and closed, further writes fail (EPIPE, ECONNRESET): expected.
    // Deno's node:tls reports only the EPIPE of a write after the server closed, not the answer that
    // preceded it: the result is then `status: 0` and the bytes written, the server having closed
    // the connection before the body ended.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (answeredAt !== undefined) return;
      clearTimeout(timer);
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') {
        resolve({ status: 0, text: '', written, headers: {} });
      } else reject(err);
    });
    socket.on('close', () => {
      if (socket.errored && answeredAt === undefined) return;
      if (!finish()) {
        clearTimeout(timer);
        reject(new Error(`connection closed without a complete answer (${written} bytes written)`));
      }
    });
    // One chunk at a time, with a pause between chunks in which the answer can be read: a TLS
    // stack that fails a write (EPIPE) after the server closed may not surface what it had received.
    const pump = async () => {
      await new Promise((r) => setTimeout(r, 50));
      while (answeredAt === undefined && written < options.size && !socket.destroyed) {
        const n = Math.min(chunk.length, options.size - written);
        const piece = n === chunk.length ? chunk : chunk.subarray(0, n);
        written += n;
        const framed = options.chunked
          ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
          : piece;
        if (!socket.write(framed)) await new Promise((r) => socket.once('drain', r));
        await new Promise((r) => setTimeout(r, 2));
      }
      if (answeredAt === undefined && options.chunked && !socket.destroyed) socket.write('0\r\n\r\n');
    };
    socket.once('secureConnect', () => {
      socket.write(head);
      void pump();
    });
  });
}
