// A wallet we did not write: @openid4vc/openid4vp resolves and verifies our signed request (x509_hash client id),
// @sd-jwt/sd-jwt-vc builds the presentation with exactly the asked claims and a KB-JWT signed here, and the library
// posts it (direct_post) to our response endpoint.
// node oid4vp_wallet.mjs REQUEST_LINK SD_JWT HOLDER_PRIVATE_JWK_JSON  ->  {"status", "body", "client_id", "claims", ...}
import { setGlobalConfig } from '@openid4vc/oauth2';
import { Openid4vpClient } from '@openid4vc/openid4vp';
import { digest } from '@sd-jwt/crypto-nodejs';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { b64u, certificateMetadata, es256Sign, generateRandom, hash, main, signJwtWith, verifyJwt } from './_jose.mjs';

setGlobalConfig({ allowInsecureUrls: true }); // the test server is http://127.0.0.1

await main(async ([requestLink, credential, holderJwkJson]) => {
  const holderJwk = JSON.parse(holderJwkJson);
  const client = new Openid4vpClient({
    callbacks: {
      fetch,
      hash,
      generateRandom,
      verifyJwt,
      signJwt: signJwtWith(holderJwk),
      // required by the library before it looks at any x509 prefix, although x509_hash never reads a SAN
      getX509CertificateMetadata: certificateMetadata,
    },
  });
  const parsed = client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: requestLink });
  const resolved = await client.resolveOpenId4vpAuthorizationRequest({ authorizationRequestPayload: parsed.params });
  const request = resolved.authorizationRequestPayload;
  const query = resolved.dcql.query.credentials[0];
  const claims = query.claims.map((c) => c.path[0]);

  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    kbSignAlg: 'ES256',
    kbSigner: async (data) => b64u(es256Sign(holderJwk, data)),
  });
  const frame = Object.fromEntries(claims.map((name) => [name, true]));
  const presentation = await sdjwt.present(credential, frame, {
    kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: request.client_id, nonce: request.nonce } },
  });
  const { authorizationResponsePayload } = await client.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: { vp_token: { [query.id]: [presentation] } },
  });
  const { response } = await client.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload,
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? JSON.parse(text) : null,
    client_id: request.client_id,
    client_prefix: resolved.client.prefix,
    version: resolved.version,
    claims,
    presentation,
  };
});
