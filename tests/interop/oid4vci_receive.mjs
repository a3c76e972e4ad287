// A wallet we did not write: the @openid4vc/openid4vci client runs the pre-authorized code flow against our issuer.
// node oid4vci_receive.mjs OFFER_LINK TX_CODE  ->  {"credential", "holder_private_jwk", "configuration_id"}
import { clientAuthenticationAnonymous, setGlobalConfig } from '@openid4vc/oauth2';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { generateRandom, hash, main, newHolderKey, signJwtWith } from './_jose.mjs';

setGlobalConfig({ allowInsecureUrls: true }); // the test server is http://127.0.0.1 (the library wants https)

await main(async ([offerLink, txCode]) => {
  const holder = newHolderKey();
  const client = new Openid4vciClient({
    callbacks: { fetch, hash, generateRandom, signJwt: signJwtWith(holder.privateJwk), clientAuthentication: clientAuthenticationAnonymous() },
  });
  const credentialOffer = await client.resolveCredentialOffer(offerLink);
  const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
  const configurationId = credentialOffer.credential_configuration_ids[0];
  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer,
    issuerMetadata,
    txCode,
  });
  const { c_nonce } = await client.requestNonce({ issuerMetadata });
  const { jwt } = await client.createCredentialRequestJwtProof({
    issuerMetadata,
    credentialConfigurationId: configurationId,
    signer: { method: 'jwk', alg: 'ES256', publicJwk: holder.publicJwk },
    nonce: c_nonce,
  });
  const result = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId: configurationId,
    proofs: { jwt: [jwt] },
  });
  const credentials = result.credentialResponse.credentials;
  return { credential: credentials[0].credential, holder_private_jwk: holder.privateJwk, configuration_id: configurationId };
});
