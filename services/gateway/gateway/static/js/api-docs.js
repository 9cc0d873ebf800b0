// Starts Swagger UI on the API reference page (a file, so the page needs no inline script).
// Swagger UI puts its operations' groups (h3) straight after the title (h1), and the title's block
// in no landmark: a heading of the level between goes before the groups, and the block becomes a
// named region, so that headings go down one level at a time and all content is in a landmark.
window.addEventListener("load", () => {
  const container = document.getElementById("swagger-ui-container");
  const headOperations = () => {
    const about = container.querySelector(".information-container");
    if (about) {
      about.setAttribute("role", "region");
      about.setAttribute("aria-label", "About this API");
    }
    const firstGroup = container.querySelector(".opblock-tag-section");
    if (firstGroup && !container.querySelector(".operations-heading")) {
      const heading = document.createElement("h2");
      heading.className = "operations-heading";
      heading.textContent = "Operations";
      firstGroup.parentNode.insertBefore(heading, firstGroup);
    }
  };
  window.ui = SwaggerUIBundle({
    url: container.dataset.specUrl,
    dom_id: "#swagger-ui-container",
    onComplete: headOperations,
  });
});
