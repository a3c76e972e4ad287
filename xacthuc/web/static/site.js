// Every page: the language link keeps the fragment (the /v#<payload> page is still the same page in the other
// language). The fragment never reaches the server, so only the browser can carry it over.
for (const link of document.querySelectorAll("a[data-keep-hash]")) {
  link.addEventListener("click", () => {
    if (location.hash) link.href = link.href.split("#")[0] + location.hash;
  });
}
