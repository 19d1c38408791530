"""RubyGems: the compact index and its `/versions` feed, API v1, `.gem` file lists."""
