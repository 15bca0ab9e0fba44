// The site's only script. The Content-Security-Policy allows no inline script and no onsubmit=
// attributes, so pages ask for behaviour with data- attributes and this file supplies it.
"use strict";

// <form data-confirm="Cancel this appointment?">: submitted only when the person says OK.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// <form data-guess-time-zone> (a sign-up nobody has submitted yet): choose the browser's time
// zone in its time_zone select, when the list has it.
document.querySelectorAll("form[data-guess-time-zone]").forEach(function (form) {
  var select = form.querySelector('select[name="time_zone"]');
  if (!select) return;
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && Array.prototype.some.call(select.options, function (option) { return option.value === zone; })) {
      select.value = zone;
    }
  } catch (e) {}
});
