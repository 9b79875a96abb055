import { expect } from 'chai';
import * as net from 'node:net';
import { buf as crc32c } from 'crc-32/crc32c';
import {
  MAX_HEADER_BYTES,
  TLV,
  V2_SIGNATURE,
  parseProxyHeader,
  type HeaderParse,
  type ProxyHeader,
} from '../../src/ssh/proxy-header';
import { isTrusted, originOf, trustedList } from '../../src/ssh/proxy-front';

function header(parse: HeaderParse): ProxyHeader {
  if (parse.status !== 'complete')
    throw new Error(`expected a header, got ${JSON.stringify(parse)}`);
  return parse.header;
}

function reason(parse: HeaderParse): string {
  if (parse.status !== 'invalid') throw new Error(`expected invalid, got ${parse.status}`);
  return parse.reason;
}

/** A version 2 header: command byte, family byte, then the body (addresses and TLVs). */
function v2(command: number, family: number, body: Buffer): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = command;
  fixed[1] = family;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

/** IPv4 addresses and ports of a version 2 body. */
function inet(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

const SSH_IDENT = Buffer.from('SSH-2.0-OpenSSH_9.2\r\n');

describe('PROXY protocol header', () => {
  describe("version 1 (the specification's examples)", () => {
    it('TCP4: the client address and port, and where the header ends', () => {
      const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
      const h = header(parseProxyHeader(Buffer.concat([Buffer.from(line), SSH_IDENT])));
      expect(h.version).to.equal(1);
      expect(h.command).to.equal('proxy');
      expect(h.source).to.deep.equal({ address: '192.168.0.1', port: 56324 });
      expect(h.destination).to.deep.equal({ address: '192.168.0.11', port: 443 });
      expect(h.length).to.equal(line.length);
    });

    it('TCP4 and TCP6 at their longest, and IPv6 in one spelling', () => {
      const v4 = 'PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n';
      expect(header(parseProxyHeader(Buffer.from(v4))).source).to.deep.equal({
        address: '255.255.255.255',
        port: 65535,
      });
      const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
      const v6 = `PROXY TCP6 ${f} ${f} 65535 65535\r\n`;
      expect(v6.length).to.equal(104);
      expect(header(parseProxyHeader(Buffer.from(v6))).source?.address).to.equal(f);
      const short = 'PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 40000 22\r\n';
      expect(header(parseProxyHeader(Buffer.from(short))).source).to.deep.equal({
        address: '2001:db8::1',
        port: 40000,
      });
    });

    it("UNKNOWN: no address (the connection's own stands), the rest of the line ignored", () => {
      const bare = header(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')));
      expect(bare).to.include({ version: 1, command: 'proxy', length: 15 });
      expect(bare.source).to.equal(undefined);
      const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
      const longest = `PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`;
      expect(longest.length).to.equal(107);
      expect(header(parseProxyHeader(Buffer.from(longest))).length).to.equal(107);
    });

    it('waits for more bytes while the line may still be a header', () => {
      for (const part of ['P', 'PROXY', 'PROXY TCP4 1.2.3.4', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r']) {
        expect(parseProxyHeader(Buffer.from(part)).status, part).to.equal('incomplete');
      }
      expect(parseProxyHeader(Buffer.alloc(0)).status).to.equal('incomplete');
    });

    it('refuses lines that are not headers, with the reason', () => {
      expect(reason(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(100)}`)))).to.match(
        /longer than 107/,
      );
      expect(reason(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n')))).to.match(
        /two addresses/,
      );
      expect(
        reason(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n'))),
      ).to.match(/bad TCP4 address/);
      expect(reason(parseProxyHeader(Buffer.from('PROXY TCP4 ::1 ::1 1 2\r\n')))).to.match(
        /bad TCP4/,
      );
      expect(
        reason(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 22\r\n'))),
      ).to.match(/port/);
      expect(
        reason(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 022 22\r\n'))),
      ).to.match(/port/);
      expect(reason(parseProxyHeader(Buffer.from('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n')))).to.match(
        /protocol 'UDP4'/,
      );
      expect(reason(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4\n')))).to.match(/printable/);
      expect(reason(parseProxyHeader(SSH_IDENT))).to.match(/starts with SSH/);
      expect(reason(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')))).to.match(
        /does not start with a PROXY header/,
      );
    });
  });

  describe('version 2', () => {
    it('PROXY over TCP/IPv4: the client address, and the bytes after it left alone', () => {
      const bytes = v2(0x21, 0x11, inet([172, 19, 0, 1], [172, 19, 0, 3], 42578, 80));
      const h = header(parseProxyHeader(Buffer.concat([bytes, SSH_IDENT])));
      expect(h).to.include({ version: 2, command: 'proxy', length: 28 });
      expect(h.source).to.deep.equal({ address: '172.19.0.1', port: 42578 });
      expect(h.destination).to.deep.equal({ address: '172.19.0.3', port: 80 });
      expect(h.tlvs).to.deep.equal([]);
    });

    it('PROXY over TCP/IPv6', () => {
      const body = Buffer.alloc(36);
      Buffer.from([0x20, 0x01, 0x0d, 0xb8]).copy(body, 0);
      body[15] = 1;
      body[31] = 1;
      body.writeUInt16BE(50000, 32);
      body.writeUInt16BE(22, 34);
      const h = header(parseProxyHeader(v2(0x21, 0x21, body)));
      expect(h.source).to.deep.equal({ address: '2001:db8::1', port: 50000 });
      expect(h.destination).to.deep.equal({ address: '::1', port: 22 });
    });

    it('LOCAL (a health check): no address, whatever the family byte says', () => {
      const bare = header(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0))));
      expect(bare).to.include({ version: 2, command: 'local', length: 16 });
      expect(bare.source).to.equal(undefined);
      const withAddresses = header(
        parseProxyHeader(v2(0x20, 0x11, inet([10, 0, 0, 1], [10, 0, 0, 2], 1, 2))),
      );
      expect(withAddresses.command).to.equal('local');
      expect(withAddresses.source).to.equal(undefined);
    });

    it('UNSPEC and UNIX families: no IP address to take', () => {
      expect(header(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)))).source).to.equal(undefined);
      const unix = header(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216))));
      expect(unix.source).to.equal(undefined);
      expect(unix.length).to.equal(232);
    });

    it('TLVs after the addresses, in order; a CRC32C that matches is accepted', () => {
      const addresses = inet([192, 0, 2, 7], [192, 0, 2, 1], 40001, 22);
      const tlvs = Buffer.concat([
        tlv(TLV.ALPN, Buffer.from('ssh')),
        tlv(TLV.UNIQUE_ID, Buffer.from('abc123')),
        tlv(TLV.NOOP, Buffer.alloc(2)),
      ]);
      const h = header(parseProxyHeader(v2(0x21, 0x11, Buffer.concat([addresses, tlvs]))));
      expect(h.source?.address).to.equal('192.0.2.7');
      expect(h.tlvs.map((t) => [t.type, t.value.toString('latin1')])).to.deep.equal([
        [TLV.ALPN, 'ssh'],
        [TLV.UNIQUE_ID, 'abc123'],
        [TLV.NOOP, '\0\0'],
      ]);
      // The checksum is over the whole header with its own four bytes at zero.
      const unsigned = v2(0x21, 0x11, Buffer.concat([addresses, tlv(TLV.CRC32C, Buffer.alloc(4))]));
      const sum = crc32c(unsigned) >>> 0;
      const signed = Buffer.from(unsigned);
      signed.writeUInt32BE(sum, signed.length - 4);
      expect(header(parseProxyHeader(signed)).tlvs[0]?.type).to.equal(TLV.CRC32C);
      signed.writeUInt32BE((sum ^ 1) >>> 0, signed.length - 4);
      expect(reason(parseProxyHeader(signed))).to.match(/CRC32C does not match/);
    });

    it('waits for the whole header, whatever size the pieces come in', () => {
      const whole = v2(0x21, 0x11, inet([1, 2, 3, 4], [5, 6, 7, 8], 9, 10));
      for (let n = 1; n < whole.length; n++) {
        expect(parseProxyHeader(whole.subarray(0, n)).status, `${n} bytes`).to.equal('incomplete');
      }
      expect(parseProxyHeader(whole).status).to.equal('complete');
    });

    it('refuses a cut or malformed header, with the reason', () => {
      const addresses = inet([1, 2, 3, 4], [5, 6, 7, 8], 9, 10);
      expect(reason(parseProxyHeader(v2(0x11, 0x11, addresses)))).to.match(/version 1/);
      expect(reason(parseProxyHeader(v2(0x22, 0x11, addresses)))).to.match(/command 2/);
      expect(reason(parseProxyHeader(v2(0x21, 0x41, addresses)))).to.match(/family byte 0x41/);
      expect(reason(parseProxyHeader(v2(0x21, 0x12, addresses)))).to.match(/UDP/);
      expect(reason(parseProxyHeader(v2(0x21, 0x21, addresses)))).to.match(/shorter than its/);
      expect(
        reason(parseProxyHeader(v2(0x21, 0x11, Buffer.concat([addresses, Buffer.from([1, 0])])))),
      ).to.match(/cut TLV/);
      expect(
        reason(
          parseProxyHeader(v2(0x21, 0x11, Buffer.concat([addresses, Buffer.from([1, 0, 9, 1])]))),
        ),
      ).to.match(/TLV longer than the header/);
      const huge = v2(0x21, 0x11, addresses);
      huge.writeUInt16BE(60000, 14);
      expect(reason(parseProxyHeader(huge))).to.match(/at most/);
      expect(MAX_HEADER_BYTES).to.be.below(4096);
      const wrongSignature = Buffer.from(V2_SIGNATURE);
      wrongSignature[11] = 0;
      expect(reason(parseProxyHeader(wrongSignature))).to.match(/does not start with a PROXY/);
    });
  });

  describe('trusted balancers', () => {
    const list = trustedList('127.0.0.1, 10.1.0.0/16,fd00::/8');

    it('trusts the listed addresses and networks, IPv4-mapped IPv6 included', () => {
      expect(isTrusted(list, '127.0.0.1')).to.equal(true);
      expect(isTrusted(list, '::ffff:127.0.0.1')).to.equal(true);
      expect(isTrusted(list, '10.1.255.3')).to.equal(true);
      expect(isTrusted(list, 'fd12::5')).to.equal(true);
    });

    it('trusts no one else: a header from another address is never read', () => {
      expect(isTrusted(list, '127.0.0.2')).to.equal(false);
      expect(isTrusted(list, '10.2.0.1')).to.equal(false);
      expect(isTrusted(list, 'fe80::1')).to.equal(false);
      expect(isTrusted(list, 'unknown')).to.equal(false);
      expect(isTrusted(trustedList(''), '127.0.0.1')).to.equal(false);
    });

    it("takes the client's address from the header; LOCAL and UNKNOWN keep the balancer's", () => {
      const socket = { remoteAddress: '10.1.0.5', remotePort: 4000 } as net.Socket;
      const relayed = header(
        parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.9 10.1.0.1 5555 22\r\n')),
      );
      expect(originOf(relayed, socket)).to.deep.equal({
        ip: '192.0.2.9',
        port: 5555,
        check: false,
      });
      const unknown = header(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')));
      expect(originOf(unknown, socket)).to.deep.equal({ ip: '10.1.0.5', port: 4000, check: false });
      const local = header(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0))));
      expect(originOf(local, socket)).to.deep.equal({ ip: '10.1.0.5', port: 4000, check: true });
    });
  });
});
