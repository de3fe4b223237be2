def main(*a): print("krita todo")
