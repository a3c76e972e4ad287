// /docs: Swagger UI over our OpenAPI schema. Here, not inline, so /docs passes the same CSP as every page (no
// inline script). The schema's URL comes from the page (data-openapi-url); no validator badge from another host.
const root = document.getElementById("swagger-ui");
window.ui = window.SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
});
