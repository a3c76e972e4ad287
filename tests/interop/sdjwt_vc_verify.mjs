// A verifier we did not write: @sd-jwt/sd-jwt-vc checks our credential (issuer signature, disclosures, status list,
// and the key binding when a nonce is given). The issuer's keys come from its SD-JWT VC issuer metadata
// ({origin}/.well-known/jwt-vc-issuer{path of iss}), found from the credential's iss as the spec says.
// node sdjwt_vc_verify.mjs SD_JWT [NONCE AUD]  ->  {"payload", "header", "kb", "issuer_metadata_url"}
import { createPublicKey } from 'node:crypto';
import { digest } from '@sd-jwt/crypto-nodejs';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { es256Verify, fromB64u, main } from './_jose.mjs';

function decodePart(part) {
  return JSON.parse(fromB64u(part).toString('utf8'));
}

await main(async ([credential, nonce, aud]) => {
  const [issuerJwt] = credential.split('~');
  const [h, p] = issuerJwt.split('.');
  const header = decodePart(h);
  const { iss } = decodePart(p);
  const issUrl = new URL(iss);
  const metadataUrl = `${issUrl.origin}/.well-known/jwt-vc-issuer${issUrl.pathname.replace(/\/$/, '')}`;
  const response = await fetch(metadataUrl);
  if (!response.ok) throw new Error(`issuer metadata ${metadataUrl}: HTTP ${response.status}`);
  const metadata = await response.json();
  if (metadata.issuer !== iss) throw new Error(`issuer metadata names ${metadata.issuer}, the credential ${iss}`);
  const keys = metadata.jwks.keys;

  // The library's verifier callback sees only data and signature: the key is the issuer's key the JWT's kid names
  // (the status list token is signed by one of the same agency's keys).
  const verifier = async (data, signature) => {
    const kid = decodePart(data.split('.')[0]).kid;
    const jwk = keys.find((k) => k.kid === kid);
    return jwk !== undefined && es256Verify(createPublicKey({ key: jwk, format: 'jwk' }), data, fromB64u(signature));
  };
  const kbVerifier = async (data, signature, payload) =>
    es256Verify(createPublicKey({ key: payload.cnf.jwk, format: 'jwk' }), data, fromB64u(signature));
  const sdjwt = new SDJwtVcInstance({ hasher: digest, verifier, kbVerifier, statusVerifier: verifier });
  const result = await sdjwt.verify(credential, nonce ? { keyBindingNonce: nonce } : {});
  if (aud && result.kb?.payload.aud !== aud) throw new Error(`the KB-JWT is for ${result.kb?.payload.aud}, not ${aud}`);
  return { payload: result.payload, header, kb: result.kb ?? null, issuer_metadata_url: metadataUrl };
});
