"""What the pages of every feature share: the campaign the staff pages work on, paging,
the public pages' policy, confirmations, template filters."""
