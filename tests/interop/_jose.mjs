// The callbacks the @openid4vc libraries and @sd-jwt/sd-jwt-vc leave to the caller (they do no crypto themselves),
// written on node:crypto: ES256 signing and verification, SHA-256, random bytes. Test code, not a library.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, X509Certificate } from 'node:crypto';

export const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
export const fromB64u = (text) => Buffer.from(text, 'base64url');

export function newHolderKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateJwk = privateKey.export({ format: 'jwk' });
  const { d, ...publicJwk } = privateJwk;
  return { privateJwk, publicJwk };
}

export function es256Sign(privateJwk, data) {
  const key = createPrivateKey({ key: privateJwk, format: 'jwk' });
  return sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' });
}

export function es256Verify(publicKey, data, signature) {
  return verify('sha256', Buffer.from(data), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature));
}

export function signCompact(privateJwk, header, payload) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${b64u(es256Sign(privateJwk, input))}`;
}

export const hash = (data, alg) => new Uint8Array(createHash(String(alg).replace('-', '').toLowerCase()).update(data).digest());
export const generateRandom = (n) => new Uint8Array(randomBytes(n));

// SignJwtCallback for a holder key: the 'jwk' signer method puts the public key in the header, as the library asks.
export function signJwtWith(privateJwk) {
  return async (signer, { header, payload }) => {
    if (signer.alg !== 'ES256') throw new Error(`unsupported alg ${signer.alg}`);
    return { jwt: signCompact(privateJwk, header, payload), signerJwk: signer.publicJwk };
  };
}

// VerifyJwtCallback: the key comes from the signer the library extracted (a jwk, or the x5c leaf certificate).
export async function verifyJwt(signer, { compact }) {
  let key;
  if (signer.method === 'x5c') {
    key = new X509Certificate(Buffer.from(signer.x5c[0], 'base64')).publicKey;
  } else if (signer.method === 'jwk') {
    key = createPublicKey({ key: signer.publicJwk, format: 'jwk' });
  } else {
    return { verified: false };
  }
  const [h, p, s] = compact.split('.');
  const ok = signer.alg === 'ES256' && es256Verify(key, `${h}.${p}`, fromB64u(s));
  const signerJwk = key.export({ format: 'jwk' });
  return ok ? { verified: true, signerJwk } : { verified: false, signerJwk };
}

export function certificateMetadata(certificate) {
  const cert = new X509Certificate(Buffer.from(certificate, 'base64'));
  const san = cert.subjectAltName ?? '';
  const parts = san.split(',').map((s) => s.trim());
  return {
    sanDnsNames: parts.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
    sanUriNames: parts.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
  };
}

export function output(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export async function main(run) {
  try {
    output(await run(process.argv.slice(2)));
  } catch (error) {
    const detail = error?.errorResponse ?? error?.response ?? error?.cause ?? '';
    process.stderr.write(`${error?.name ?? 'Error'}: ${error?.message}\n${detail ? JSON.stringify(detail) : ''}\n${error?.stack ?? ''}\n`);
    process.exit(1);
  }
}
