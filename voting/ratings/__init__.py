"""Citizens' ratings at the window (评议二维码, 好差评): the signed, revocable rating
addresses of a section, a window or a case, the confirmation of a phone by an SMS code,
and the working-day clock of a poor rating's follow-up."""
