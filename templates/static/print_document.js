// The printable documents (templates/print_document.html): the 打印 button opens the
// browser's print dialog (a file: the staff pages' content security policy allows no
// inline script).
document.getElementById("print-button")?.addEventListener("click", () => window.print());
