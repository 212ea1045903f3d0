; Tandem's Windows installer, for NSIS 3 (Debian nsis: makensis). Built by
; scripts/package.sh, which defines:
;   VERSION      the release version (1.2.0, 1.2.0-3-g4f2a9c1)
;   VIVERSION    the same as four numbers (1.2.0.0)
;   EXE          the cross-compiled tandem.exe
;   ICON         the application icon (.ico)
;   EXAMPLES     the folder with the example tandem.toml and bc.properties
;   GUIDE        docs/admin-guide.md
;   OUTFILE      the installer to write
;   SIGNFILE     optional: a command that signs the file %1 in place (the
;                uninstaller is then signed too, before it is packed)
;
; Command line of the installer (docs/admin-guide.md):
;   tandem-setup.exe [/S] [/CONFIG=path\to\tandem.toml|bc.properties] [/D=C:\Install\Dir]
; /S installs silently. /CONFIG copies the provisioning file to
; %ProgramData%\Tandem\tandem.toml (or bc.properties for a .properties file),
; replacing what was there. /D must come last (an NSIS rule).
; Exit codes: 0 installed, 1 cancelled, 2 failed (the /CONFIG file is
; missing: then nothing is installed).

Unicode true
!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

!define APPNAME "Tandem"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Tandem"

Name "${APPNAME} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${APPNAME}"
InstallDirRegKey HKLM "Software\${APPNAME}" "InstallDir"
RequestExecutionLevel admin
SetCompressor /SOLID lzma
ManifestDPIAware true

VIProductVersion "${VIVERSION}"
VIAddVersionKey "ProductName" "${APPNAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APPNAME} installer"
VIAddVersionKey "CompanyName" "Tandem developers"
VIAddVersionKey "LegalCopyright" "Tandem developers"

!ifdef SIGNFILE
  !uninstfinalize '${SIGNFILE} "%1"' = 0
!endif

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\tandem.exe"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Var ConfigFile   ; /CONFIG=, or empty
Var ConfigName   ; tandem.toml or bc.properties
Var ProvDir      ; %ProgramData%\Tandem, where the desktop looks (config.DefaultPaths)

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${APPNAME} needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/CONFIG=" $ConfigFile
  ${If} ${Errors}
    StrCpy $ConfigFile ""
  ${Else}
    ; Relative to where the installer was started: SetOutPath moves later.
    ; Empty when the folder does not exist: the check below then fails.
    GetFullPathName $R2 "$ConfigFile"
    ${If} $R2 != ""
      StrCpy $ConfigFile $R2
    ${EndIf}
    ${IfNot} ${FileExists} "$ConfigFile"
    ${OrIf} $ConfigFile == ""
      MessageBox MB_ICONSTOP "The provisioning file '$ConfigFile' does not exist." /SD IDOK
      SetErrorLevel 2
      Quit
    ${EndIf}
  ${EndIf}
  StrCpy $ConfigName "tandem.toml"
  ${If} $ConfigFile != ""
    ${GetFileExt} "$ConfigFile" $R1
    ${If} $R1 == "properties"
      StrCpy $ConfigName "bc.properties"
    ${EndIf}
  ${EndIf}
FunctionEnd

Section "Tandem" SecMain
  SectionIn RO
  SetShellVarContext all
  SetOutPath "$INSTDIR"
  File "/oname=tandem.exe" "${EXE}"
  SetOutPath "$INSTDIR\examples"
  File "/oname=tandem.toml" "${EXAMPLES}\tandem.toml"
  File "/oname=bc.properties" "${EXAMPLES}\bc.properties"
  SetOutPath "$INSTDIR"
  File "/oname=admin-guide.md" "${GUIDE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${APPNAME}.lnk" "$INSTDIR\tandem.exe"

  ; The system-wide provisioning: the desktop reads %ProgramData%\Tandem.
  ReadEnvStr $ProvDir "ProgramData"
  ${If} $ProvDir == ""
    StrCpy $ProvDir "$APPDATA" ; all users: C:\ProgramData
  ${EndIf}
  StrCpy $ProvDir "$ProvDir\${APPNAME}"
  CreateDirectory "$ProvDir"
  ${If} $ConfigFile != ""
    ; The new file is the whole provisioning: one of the other form would
    ; still be read beside it.
    Delete "$ProvDir\tandem.toml"
    Delete "$ProvDir\bc.properties"
    ClearErrors
    CopyFiles /SILENT "$ConfigFile" "$ProvDir\$ConfigName"
    ${If} ${Errors}
      MessageBox MB_ICONSTOP "Could not copy $ConfigFile to $ProvDir\$ConfigName." /SD IDOK
      Abort
    ${EndIf}
  ${EndIf}

  WriteRegStr HKLM "Software\${APPNAME}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayName" "${APPNAME}"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTKEY}" "Publisher" "Tandem developers"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\tandem.exe"
  WriteRegStr HKLM "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKLM "${UNINSTKEY}" "EstimatedSize" $0
SectionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

; The provisioning in %ProgramData%\Tandem and the users' own files stay:
; they are the admin's and the users', and a reinstall finds them again.
Section "Uninstall"
  SetShellVarContext all
  Delete "$INSTDIR\tandem.exe"
  Delete "$INSTDIR\admin-guide.md"
  Delete "$INSTDIR\examples\tandem.toml"
  Delete "$INSTDIR\examples\bc.properties"
  RMDir "$INSTDIR\examples"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${APPNAME}.lnk"
  DeleteRegKey HKLM "${UNINSTKEY}"
  DeleteRegKey HKLM "Software\${APPNAME}"
SectionEnd
