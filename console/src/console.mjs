// The web console's only script, served at /assets/console.js and loaded by every page with
// <script type="module" src="/assets/console.js"> (no inline script: the Content-Security-Policy
// is script-src 'self'). The pages work without it; it adds GOV.UK Frontend's and MOJ Frontend's
// enhancements (error summary focus, character counts, sortable tables, button menus, ...).
import { initAll as initGovukFrontend } from './govuk-frontend.min.js'
import { initAll as initMojFrontend } from './moj-frontend.min.js'

// What GOV.UK Frontend's page template does with an inline script: mark the page as one where
// JavaScript runs and the components are supported (module scripts only run in such browsers).
document.body.classList.add('js-enabled', 'govuk-frontend-supported')

initGovukFrontend()
initMojFrontend()
