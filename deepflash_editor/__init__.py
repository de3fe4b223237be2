"""Editor-independent helpers shared by the GIMP and Krita plug-ins.

Standard library only (numpy used when present): ``deepflash install`` copies this
package next to each plug-in, whose editor Python has no torch and maybe no numpy.
"""
