# ruff: noqa: E501  (page text and markup are kept one line per element, as GOV.UK and the NHS write them)
"""Writes the example site under demo_data/site/ (run: python tools/generate_demo_site.py from a checkout; it is not part of the wheel).

The pages are EXAMPLES, not captures: plausible text in the real GOV.UK and NHS website markup
(see the research fixtures in ../shared/fixtures). One source of truth per page body keeps a GOV.UK page and its
Content API JSON identical, and keeps v1 and v2 different only where site/README.md says.
Not used at run time; the generated files are committed.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

SITE = Path(__file__).resolve().parents[1] / "src" / "guidewatch" / "demo_data" / "site"
NOTE = "EXAMPLE PAGE FOR guidewatch demo AND tests, NOT A CAPTURE OF A LIVE PAGE."

ATMP_SLUG = "advanced-therapy-medicinal-products-regulation-and-licensing"
ATMP_PATH = f"/guidance/{ATMP_SLUG}"
IO_PATH = "/government/groups/mhra-innovation-office"
NHS_OLD = "/conditions/genetic-and-genomic-testing/"
NHS_NEW = "/tests-and-treatments/genetic-and-genomic-testing/"
MHRA = "Medicines and Healthcare products Regulatory Agency"
MHRA_PATH = "/government/organisations/medicines-and-healthcare-products-regulatory-agency"

# --- the MHRA ATMP detailed guide -----------------------------------------------------------

ATMP_TITLE = "Advanced therapy medicinal products: regulation and licensing"
ATMP_DESCRIPTION = (
    "How advanced therapy medicinal products (ATMPs) are classified, licensed and supplied in the UK, "
    "including the hospital exemption, clinical trials and long-term follow-up."
)

COMBINED_V1 = """<p>A combined ATMP is a gene therapy medicinal product, somatic cell therapy medicinal product or tissue-engineered product that incorporates, as an integral part of the product, one or more medical devices or active implantable medical devices.</p>"""
COMBINED_V2 = """<p>A combined ATMP is a gene therapy medicinal product, somatic cell therapy medicinal product or tissue-engineered product that incorporates, as an integral part of the product, one or more medical devices or active implantable medical devices. Its cellular or tissue part must contain viable cells or tissues. If it contains only non-viable cells or tissues, it is a combined ATMP only if their action on the human body is principal to that of the devices.</p>"""

HE_NOTIFY_V1 = """<p>Hospitals may notify the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> before they first supply a product under the hospital exemption. The <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> may ask the licence holder for information about the products it supplies, including the number of patients treated.</p>

<p>Serious adverse reactions should be reported to the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> within 15 days of the hospital becoming aware of them.</p>"""
HE_NOTIFY_V2 = """<p>Hospitals must notify the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> at least 60 days before they first supply a product under the hospital exemption. The licence holder must send the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> an annual report on each product it supplies, including the number of patients treated, the conditions treated and any suspected adverse reactions.</p>

<p>Serious adverse reactions must be reported to the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> within 7 days of the hospital becoming aware of them.</p>"""

ATMP_BODY = """<div class="govspeak"><h2 id="overview">Overview</h2>

<p>Advanced therapy medicinal products (<abbr title="advanced therapy medicinal products">ATMPs</abbr>) are medicines for human use that are based on genes, cells or tissues. They offer new opportunities to treat diseases and injuries, including conditions for which there are few or no other treatment options.</p>

<p>This guidance explains how the Medicines and Healthcare products Regulatory Agency (<abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr>) regulates <abbr title="advanced therapy medicinal products">ATMPs</abbr> in the UK. It covers how products are classified, what is needed for a marketing authorisation, the supply of unlicensed <abbr title="advanced therapy medicinal products">ATMPs</abbr> under the hospital exemption, clinical trials, traceability and pharmacovigilance.</p>

<p>It is for developers, manufacturers, hospitals, clinicians and sponsors of clinical trials. Patients may also find it useful to understand how these products are regulated.</p>

<h2 id="what-atmps-are">What ATMPs are</h2>

<p><abbr title="advanced therapy medicinal products">ATMPs</abbr> are defined in the Human Medicines Regulations 2012. There are 3 main types of <abbr title="advanced therapy medicinal product">ATMP</abbr>, and a fourth category for products that combine an <abbr title="advanced therapy medicinal product">ATMP</abbr> with a medical device:</p>

<ul>
  <li>gene therapy medicinal products</li>
  <li>somatic cell therapy medicinal products</li>
  <li>tissue-engineered products</li>
  <li>combined <abbr title="advanced therapy medicinal products">ATMPs</abbr>, which include a medical device as an integral part of the product</li>
</ul>

<h3 id="gene-therapy-medicinal-products">Gene therapy medicinal products</h3>

<p>A gene therapy medicinal product contains an active substance that contains or consists of a recombinant nucleic acid. It is used in or given to people to regulate, repair, replace, add or delete a genetic sequence. Its therapeutic, preventive or diagnostic effect relates directly to the recombinant nucleic acid sequence it contains, or to the product of that sequence’s genetic expression.</p>

<p>Vaccines against infectious diseases are not gene therapy medicinal products.</p>

<h3 id="somatic-cell-therapy-medicinal-products">Somatic cell therapy medicinal products</h3>

<p>A somatic cell therapy medicinal product contains or consists of cells or tissues that have been substantially manipulated, so that their biological characteristics, physiological functions or structural properties relevant to the intended clinical use have been altered. It may also contain cells or tissues that are not intended to be used for the same essential function in the recipient as in the donor.</p>

<p>It is used to treat, prevent or diagnose a disease through the pharmacological, immunological or metabolic action of its cells or tissues.</p>

<h3 id="tissue-engineered-products">Tissue-engineered products</h3>

<p>A tissue-engineered product contains or consists of engineered cells or tissues. It is used to regenerate, repair or replace a human tissue.</p>

<p>Products that contain only non-viable human or animal cells or tissues, and that do not act mainly by pharmacological, immunological or metabolic means, are not tissue-engineered products.</p>

<h3 id="combined-atmps">Combined ATMPs</h3>

@@COMBINED@@

<p>The device part of a combined <abbr title="advanced therapy medicinal product">ATMP</abbr> must meet the relevant requirements of the Medical Devices Regulations 2002.</p>

<h3 id="products-that-are-not-atmps">Products that are not ATMPs</h3>

<p>Cells or tissues that are not substantially manipulated and are used for the same essential function in the recipient as in the donor are not <abbr title="advanced therapy medicinal products">ATMPs</abbr>. An example is a bone marrow transplant to restore blood-forming cells. These are regulated by the Human Tissue Authority (<abbr title="Human Tissue Authority">HTA</abbr>).</p>

<h2 id="classification-of-atmps">Classification of ATMPs</h2>

<p>It is not always clear whether a product is an <abbr title="advanced therapy medicinal product">ATMP</abbr>, or which type of <abbr title="advanced therapy medicinal product">ATMP</abbr> it is. Borderline cases include products that combine cells with scaffolds or devices, and products where it is not clear whether the cells have been substantially manipulated.</p>

<p>If you are not sure whether your product is an <abbr title="advanced therapy medicinal product">ATMP</abbr>, you can ask the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> for classification advice. Send a short description of the product, how it is made and how it is intended to be used to the <a href="/government/groups/mhra-innovation-office">MHRA Innovation Office</a>. The <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> aims to give its opinion within 60 days of receiving all the information it needs.</p>

<p>Classification advice is free. It is not legally binding, but the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> will take it into account when it assesses any later application for the product.</p>

<h2 id="marketing-authorisation">Marketing authorisation</h2>

<p>An <abbr title="advanced therapy medicinal product">ATMP</abbr> that is placed on the market in the UK must have a marketing authorisation. The <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> assesses the quality, safety and efficacy of each <abbr title="advanced therapy medicinal product">ATMP</abbr> before it grants a marketing authorisation. The Commission on Human Medicines advises the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> on applications for <abbr title="advanced therapy medicinal products">ATMPs</abbr>.</p>

<p>Applications for <abbr title="advanced therapy medicinal products">ATMPs</abbr> can use the same routes as other medicines, including the 150-day national assessment procedure and the International Recognition Procedure.</p>

<p>Your application must include:</p>

<ul>
  <li>quality data, including the manufacturing process, the starting materials and the controls that make sure the product is consistent from batch to batch</li>
  <li>non-clinical data on the product’s pharmacology, toxicology and biodistribution</li>
  <li>clinical data showing that the product is safe and effective for the proposed use</li>
  <li>a risk management plan, including how you will follow up patients over the long term</li>
</ul>

<p><abbr title="advanced therapy medicinal products">ATMPs</abbr> must be manufactured in line with good manufacturing practice (<abbr title="good manufacturing practice">GMP</abbr>) at a site that holds a manufacturer’s licence issued by the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr>.</p>

<p>If your <abbr title="advanced therapy medicinal product">ATMP</abbr> is for a condition with an unmet medical need, you may be able to use the Innovative Licensing and Access Pathway to get earlier and more frequent advice.</p>

<h2 id="hospital-exemption">Hospital exemption</h2>

<p>The hospital exemption allows some unlicensed <abbr title="advanced therapy medicinal products">ATMPs</abbr> to be used in the UK without a marketing authorisation. It is set out in regulation 171 of the Human Medicines Regulations 2012.</p>

<p>An <abbr title="advanced therapy medicinal product">ATMP</abbr> can be supplied under the hospital exemption only if it is:</p>

<ul>
  <li>prepared on a non-routine basis, according to specific quality standards</li>
  <li>used in a hospital in the UK, for an individual patient</li>
  <li>used under the exclusive professional responsibility of a medical practitioner</li>
  <li>made to comply with an individual medical prescription for a custom-made product</li>
</ul>

<p>The product must be manufactured at a site that holds a manufacturer’s licence issued by the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> that authorises the manufacture of <abbr title="advanced therapy medicinal products">ATMPs</abbr> for use under the hospital exemption. The site must meet good manufacturing practice and the same traceability and pharmacovigilance requirements as licensed <abbr title="advanced therapy medicinal products">ATMPs</abbr>.</p>

@@HE_NOTIFY@@

<p>The hospital exemption cannot be used to supply a product routinely, or to avoid the need for a clinical trial or a marketing authorisation.</p>

<h2 id="clinical-trials-of-atmps">Clinical trials of ATMPs</h2>

<p>A clinical trial of an <abbr title="advanced therapy medicinal product">ATMP</abbr> in the UK needs a clinical trial authorisation from the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> and a favourable opinion from a research ethics committee. You apply for both through a single combined review, using the Integrated Research Application System. The Health Research Authority (<abbr title="Health Research Authority">HRA</abbr>) coordinates the ethics review.</p>

<p>Trials of products that contain genetically modified organisms may also need approval under the contained use or deliberate release regulations. Trials that use human tissues or cells may need a licence from the Human Tissue Authority.</p>

<p><abbr title="advanced therapy medicinal products">ATMPs</abbr> used in clinical trials must be manufactured in line with good manufacturing practice for investigational medicinal products, at a site that holds a manufacturer’s authorisation for investigational medicinal products.</p>

<p>You can ask the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> for scientific advice before you apply. This can help you plan non-clinical studies and the design of early trials.</p>

<h2 id="traceability-and-long-term-follow-up">Traceability and long-term follow-up</h2>

<p>Because <abbr title="advanced therapy medicinal products">ATMPs</abbr> contain living cells or genetic material, their effects can last for many years. Marketing authorisation holders and hospitals must have a system that allows each product, its starting materials and the patient who received it to be traced.</p>

<p>Traceability records must be kept for at least 30 years after the expiry date of the product, or for longer if the marketing authorisation requires it.</p>

<p>The <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> may require long-term follow-up of patients treated with an <abbr title="advanced therapy medicinal product">ATMP</abbr> as a condition of the marketing authorisation, to check how well the product works and to detect late side effects. For some gene therapies, follow-up can last for up to 15 years.</p>

<h2 id="pharmacovigilance">Pharmacovigilance</h2>

<p><abbr title="advanced therapy medicinal products">ATMPs</abbr> have the same pharmacovigilance requirements as other medicines. Marketing authorisation holders must have a pharmacovigilance system and must report suspected serious adverse reactions to the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> within 15 days.</p>

<p>New <abbr title="advanced therapy medicinal products">ATMPs</abbr> carry a black triangle (▼) to show that they are subject to additional monitoring. Healthcare professionals and patients should report any suspected side effects through the <a rel="external" href="https://yellowcard.mhra.gov.uk/">Yellow Card scheme</a>.</p>

<h2 id="contact">Contact</h2>

<p>For questions about the regulation of <abbr title="advanced therapy medicinal products">ATMPs</abbr>, contact the <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> Innovation Office.</p>

<div class="contact">
<p>Email: <a href="mailto:innovationoffice@mhra.gov.uk">innovationoffice@mhra.gov.uk</a></p>
<p>Medicines and Healthcare products Regulatory Agency<br>10 South Colonnade<br>Canary Wharf<br>London<br>E14 4PU</p>
</div>
</div>"""

ATMP_HISTORY_V1 = [
    (
        "2025-03-14T09:30:00+00:00",
        "14 March 2025",
        "Clinical trials section updated to describe the combined review of applications by the MHRA and a "
        "research ethics committee.",
    ),
    (
        "2023-06-20T14:00:00+01:00",
        "20 June 2023",
        "Added information about classification advice from the MHRA Innovation Office.",
    ),
    ("2020-12-31T23:00:00+00:00", "31 December 2020", "First published."),
]
ATMP_HISTORY_V2 = [
    (
        "2026-11-03T10:15:00+00:00",
        "3 November 2026",
        "Hospital exemption: hospitals must now notify the MHRA before first supply and report annually on "
        "products supplied; serious adverse reactions must be reported within 7 days. Clarified when a product "
        "with non-viable cells is a combined ATMP.",
    ),
    *ATMP_HISTORY_V1,
]

# --- the MHRA Innovation Office group page -------------------------------------------------

IO_TITLE = "MHRA Innovation Office"
IO_DESCRIPTION = (
    "The MHRA Innovation Office helps organisations developing innovative medicines, medical devices and "
    "manufacturing processes to understand and work through regulation."
)
IO_BODY = """<div class="govspeak"><h2 id="what-the-innovation-office-does">What the Innovation Office does</h2>

<p>The Innovation Office gives free and confidential regulatory information, advice and guidance to organisations of all sizes and backgrounds, including academic researchers, small and medium-sized enterprises and large companies.</p>

<p>It can help you with:</p>

<ul>
  <li>whether your product is a medicine, a medical device or a combination of both, and which regulations apply</li>
  <li>the classification of advanced therapy medicinal products (<abbr title="advanced therapy medicinal products">ATMPs</abbr>)</li>
  <li>regenerative medicine, including gene therapy, cell therapy and tissue-engineered products</li>
  <li>new manufacturing processes and technologies</li>
  <li>routes to clinical trials and marketing authorisation</li>
</ul>

<h2 id="regenerative-medicine-and-atmps">Regenerative medicine and ATMPs</h2>

<p>Developers of regenerative medicines often need advice from more than one regulator. The <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr>, the Human Tissue Authority, the Health Research Authority and the Human Fertilisation and Embryology Authority give joint advice through a single enquiry, so you do not need to contact each regulator separately.</p>

<h2 id="how-to-make-an-enquiry">How to make an enquiry</h2>

<p>Send your enquiry using the online form. Tell us about your product, its stage of development and the questions you have.</p>

<p>We aim to reply within 20 working days. Some enquiries may need a meeting with <abbr title="Medicines and Healthcare products Regulatory Agency">MHRA</abbr> experts.</p>

<h2 id="contact">Contact</h2>

<p>Email: <a href="mailto:innovationoffice@mhra.gov.uk">innovationoffice@mhra.gov.uk</a></p>
</div>"""

# --- the NHS genetic and genomic testing page ----------------------------------------------

NHS_TITLE = "Genetic and genomic testing"
NHS_BODY = """<h1>Genetic and genomic testing</h1>
<p>Genetic and genomic testing (sometimes called genetic testing) looks for changes in your genes (DNA). It can find gene changes that may cause health problems.</p>
<p>It@@APOS@@s mainly used to diagnose rare and inherited health conditions and some cancers.</p>

<h2 id="what-genetic-and-genomic-testing-is">What genetic and genomic testing is</h2>
<p>Your genes contain the instructions that tell your body how to grow, develop and work. A change in a gene (sometimes called a variant) can stop it working properly and cause a health problem.</p>
<p>Genetic testing usually looks at 1 gene or a small number of genes. Genomic testing looks at many genes, or at all of your DNA (whole genome sequencing).</p>
<p>Testing can also:</p>
<ul>
  <li>help doctors choose the best treatment or medicine for you</li>
  <li>show whether you may be able to join a clinical trial</li>
  <li>show whether a condition could be passed on to your children</li>
  <li>show whether other members of your family could be at risk</li>
</ul>

<h2 id="why-you-might-be-offered-it">Why you might be offered genetic or genomic testing</h2>
<p>You might be offered testing if:</p>
<ul>
  <li>you or your child have symptoms of a rare condition that doctors think may be caused by a gene change</li>
  <li>a condition such as some types of cancer, heart disease or a blood disorder runs in your family</li>
  <li>you have a type of cancer where the result could affect your treatment</li>
  <li>you@@APOS@@re pregnant and there@@APOS@@s a chance your baby could have an inherited condition</li>
  <li>a family member has been found to have a gene change that causes a health problem</li>
</ul>
<p>Testing is usually offered by a specialist, such as a clinical geneticist. Your GP can refer you if they think testing might help.</p>

<h2 id="how-it-is-done">How genetic and genomic testing is done</h2>
<p>Most tests use a sample of blood. Sometimes a sample of saliva, skin or tissue, such as tissue taken from a tumour during a biopsy, is used instead.</p>
<p>During pregnancy, a sample may be taken from the placenta (chorionic villus sampling) or from the fluid around the baby (amniocentesis).</p>
<p>You@@APOS@@ll be asked to give your consent before you have a test. Your healthcare professional will explain what the test can and cannot tell you.</p>

<h2 id="results">Getting your results</h2>
<p>It can take from a few weeks to several months to get your results, depending on the type of test.</p>
<p>Your results may show:</p>
<ul>
  <li>a gene change that explains your symptoms or condition</li>
  <li>no gene change that explains your condition @@DASH@@ this does not always mean there is no genetic cause</li>
  <li>a gene change that doctors are not yet sure about (a variant of uncertain significance)</li>
</ul>
<p>Results can be complicated, and they may also be important for your family. Your specialist will explain what your results mean.</p>

<h2 id="genetic-counselling">Genetic counselling</h2>
<p>Genetic counselling can help you understand what testing involves and what your results mean for you and your family.</p>
<p>A genetic counsellor or clinical geneticist can talk to you about:</p>
<ul>
  <li>whether to have a test</li>
  <li>how a condition might be inherited</li>
  <li>the chances of passing a condition on to your children</li>
  <li>the options available to you and your family</li>
</ul>
<p>Your GP or specialist can refer you to a genetic counselling service.</p>

<h2 id="getting-tested">Getting tested on the NHS</h2>
<p>Genetic and genomic testing on the NHS in England is provided by the NHS Genomic Medicine Service. Tests are done by a national network of genomic laboratory hubs.</p>
<p>The tests available, and who can have them, are listed in the National Genomic Test Directory.</p>
<p>You cannot usually ask for a test yourself. You@@APOS@@ll need to be referred by a doctor or specialist who thinks testing is right for you.</p>
<div class="nhsuk-inset-text">
  <span class="nhsuk-u-visually-hidden">Information: </span>
  <p>Home testing kits you can buy online are not the same as NHS tests. They may not be accurate, and they do not come with genetic counselling.</p>
</div>

<h2 id="clinical-trials">Genetic testing and clinical trials</h2>
<p>Some clinical trials are only open to people who have a particular gene change. Testing can show whether a trial might be suitable for you, for example a trial of a new gene therapy or a targeted cancer treatment.</p>
<p>Ask your specialist whether there are any clinical trials you could join. You can also search for trials on the <a href="https://bepartofresearch.nihr.ac.uk/">Be Part of Research website</a>.</p>
"""

# --- chrome ---------------------------------------------------------------------------------

GOVUK_COOKIE_TEXT_V1 = [
    "We use some essential cookies to make this website work.",
    "We’d like to set additional cookies to understand how you use GOV.UK, remember your settings and improve "
    "government services.",
    "We also use cookies set by other sites to help us deliver content from their services.",
]
GOVUK_COOKIE_TEXT_V2 = [
    "We use some essential cookies to make this website work.",
    "We’d like to use analytics cookies so we can understand how you use GOV.UK and make improvements.",
    "You can change your cookie settings at any time.",
]
NHS_COOKIE_TEXT_V1 = [
    "We use some cookies to make this website work.",
    "Help improve online NHS services by also accepting analytics cookies.",
    "Your choice will be remembered for other online NHS services, such as the NHS App.",
]
NHS_COOKIE_TEXT_V2 = [
    "We’ve put some small files called cookies on your device to make our site work.",
    "We’d also like to use analytics cookies. These send information about how our site is used to a service "
    "called Adobe Analytics. We use this information to improve our site.",
    "Let us know if this is OK. We’ll use a cookie to save your choice.",
]

CROWN = (
    '<svg focusable="false" role="img" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 324 60" height="30" '
    'width="162" fill="currentcolor" class="govuk-header__logotype" aria-label="GOV.UK"><title>GOV.UK</title>'
    '<circle cx="20" cy="17.6" r="3.7"/><circle cx="10.2" cy="23.5" r="3.7"/><circle cx="3.7" cy="33.2" r="3.7"/>'
    "</svg>"
)


@dataclass(frozen=True)
class Version:
    name: str  # "v1" | "v2"
    govspeak_class: str  # "govuk-govspeak" was dropped from the component in Aug 2026
    govuk_cookie_text: list[str]
    nhs_cookie_text: list[str]
    reviewed: tuple[str, str]
    review_class: str  # nhsuk-frontend renamed -color to -colour in 10.0.0
    apostrophe: str
    dash: str


V1 = Version(
    "v1",
    "gem-c-govspeak govuk-govspeak",
    GOVUK_COOKIE_TEXT_V1,
    NHS_COOKIE_TEXT_V1,
    ("12 March 2024", "12 March 2027"),
    "nhsuk-u-secondary-text-color",
    "'",
    "&ndash;",
)
V2 = Version(
    "v2",
    "gem-c-govspeak",
    GOVUK_COOKIE_TEXT_V2,
    NHS_COOKIE_TEXT_V2,
    ("2 October 2026", "2 October 2029"),
    "nhsuk-u-secondary-text-colour",
    "’",
    "-",
)


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def govuk_cookie_banner(v: Version) -> str:
    paras = "".join(f"<p class='govuk-body'>{esc(t)}</p>" for t in v.govuk_cookie_text)
    return f"""<div id="global-cookie-message" class="gem-c-cookie-banner govuk-clearfix govuk-cookie-banner js-banner-wrapper" data-module="cookie-banner" data-nosnippet="" role="region" aria-label="Cookies on GOV.UK" hidden="hidden">
    <div class="govuk-cookie-banner__message govuk-width-container">
      <div class="govuk-grid-row">
        <div class="govuk-grid-column-two-thirds">
          <h2 class="govuk-cookie-banner__heading govuk-heading-m">Cookies on GOV.UK</h2>
          <div tabindex="-1" class="govuk-cookie-banner__content gem-c-cookie-banner__confirmation">
            <div class="gem-c-cookie-banner__content">{paras}</div>
            <p class="gem-c-cookie-banner__confirmation-message--accepted govuk-body" hidden>You have accepted additional cookies. <span class="gem-c-cookie-banner__confirmation-message">You can <a class="govuk-link" href="/help/cookies">change your cookie settings</a> at any time.</span></p>
            <p class="gem-c-cookie-banner__confirmation-message--rejected govuk-body" hidden>You have rejected additional cookies. <span class="gem-c-cookie-banner__confirmation-message">You can <a class="govuk-link" href="/help/cookies">change your cookie settings</a> at any time.</span></p>
          </div>
        </div>
      </div>
      <div class="js-confirmation-buttons govuk-button-group">
        <button class="gem-c-button govuk-button" type="submit" data-accept-cookies="true" data-cookie-types="all" name="cookies">Accept additional cookies</button>
        <button class="gem-c-button govuk-button" type="submit" data-reject-cookies="true" name="cookies">Reject additional cookies</button>
        <a class="govuk-link" href="/help/cookies">View cookies</a>
      </div>
      <div hidden class="js-hide-button govuk-button-group">
        <button class="gem-c-cookie-banner__hide-button govuk-button" data-hide-cookie-banner="true">Hide cookie message</button>
      </div>
    </div>
  </div>"""


def govuk_page(
    v: Version,
    *,
    title: str,
    caption: str,
    description: str,
    body: str,
    path: str,
    breadcrumbs: list[tuple[str, str]],
    published: str | None,
    updated: str | None,
    history: list[tuple[str, str, str]],
    contents: bool,
    related: list[tuple[str, str]],
) -> str:
    crumbs = "\n".join(
        f'          <li class="govuk-breadcrumbs__list-item"><a class="govuk-breadcrumbs__link" href="{href}">'
        f"{esc(text)}</a></li>"
        for text, href in breadcrumbs
    )
    meta = [
        f'<dt class="gem-c-metadata__term">From:</dt>\n                <dd class="gem-c-metadata__definition">'
        f'<a class="govuk-link" href="{MHRA_PATH}">{MHRA}</a></dd>'
    ]
    if published:
        meta.append(
            f'<dt class="gem-c-metadata__term">Published:</dt>\n                '
            f'<dd class="gem-c-metadata__definition">{published}</dd>'
        )
    if updated:
        meta.append(
            f'<dt class="gem-c-metadata__term">Last updated:</dt>\n                '
            f'<dd class="gem-c-metadata__definition">\n                  {updated}\n                  '
            '&#8212; <a href="#full-publication-update-history" class="gem-c-metadata__definition-link '
            'govuk-!-display-none-print js-see-all-updates-link">See all updates</a>\n                </dd>'
        )
    metadata = "\n                ".join(meta)
    contents_html = ""
    if contents:
        items = "\n".join(
            f'              <li class="gem-c-contents-list__list-item gem-c-contents-list__list-item--dashed">'
            f'<span class="gem-c-contents-list__list-item-dash" aria-hidden="true"></span>'
            f'<a class="gem-c-contents-list__link govuk-link" href="#{hid}">{esc(text)}</a></li>'
            for hid, text in re.findall(r'<h2 id="([^"]+)">(.*?)</h2>', body)
        )
        contents_html = f"""
            <div class="gem-c-contents-list-with-body__list-container">
              <nav class="gem-c-contents-list" aria-label="Contents" role="navigation" data-module="ga4-link-tracker">
                <h2 class="gem-c-contents-list__title">Contents</h2>
                <ol class="gem-c-contents-list__list">
{items}
                </ol>
              </nav>
            </div>"""
    dates = ""
    if published:
        changes = "\n".join(
            f"""                  <li class="gem-c-published-dates__change-item">
                    <time class="gem-c-published-dates__change-date timestamp" datetime="{stamp}">{shown}</time>
                    <p class="gem-c-published-dates__change-note">{esc(note)}</p>
                  </li>"""
            for stamp, shown, note in history
        )
        last = (
            f"""
              Last updated {updated}
              <span aria-hidden="true">&#8212; </span>
              <a href="#full-history" class="gem-c-published-dates__toggle govuk-link" data-controls="full-history" data-expanded="false" data-toggled-text="Hide all updates">Show all updates</a>
              <div class="gem-c-published-dates__change-history js-hidden" id="full-history">
                <ol class="gem-c-published-dates__list">
{changes}
                </ol>
              </div>"""
            if updated
            else ""
        )
        dates = f"""
            <div class="gem-c-published-dates gem-c-published-dates--history govuk-!-margin-bottom-5" id="full-publication-update-history" data-module="gem-toggle" lang="en">
              <h2 class="govuk-visually-hidden">Updates to this page</h2>
              <div>Published {published}</div>{last}
            </div>"""
    related_html = "\n".join(
        f'                  <li class="gem-c-related-navigation__link"><a class="govuk-link gem-c-related-navigation__section-link" '
        f'href="{href}">{esc(text)}</a></li>'
        for text, href in related
    )
    return f"""<!-- {NOTE}
     Hand-assembled in the markup of alphagov/frontend + govuk_publishing_components (see /work/shared/fixtures/govuk-html);
     the text is written for guidewatch and is not MHRA guidance. Generated by guidewatch/demo_data/_generate.py ({v.name}). -->
<!DOCTYPE html>
<html class="govuk-template" lang="en">
<head>
  <meta charset="utf-8">
  <title>{esc(title)} - GOV.UK</title>
  <meta name="description" content="{esc(description)}">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="theme-color" content="#1d70b8">
  <link rel="canonical" href="https://www.gov.uk{path}">
  <link rel="stylesheet" href="/assets/frontend/application.css" media="all">
  <script type="application/ld+json">{{"@context": "http://schema.org", "@type": "Article", "headline": {json.dumps(title)}}}</script>
</head>
<body class="gem-c-layout-for-public govuk-template__body">
  <script>document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');</script>
  {govuk_cookie_banner(v)}
  <a href="#content" class="gem-c-skip-link govuk-skip-link" data-module="govuk-skip-link">Skip to main content</a>
  <header>
    <div class="gem-c-layout-super-navigation-header" data-module="super-navigation-mega-menu">
      <div class="gem-c-layout-super-navigation-header__container govuk-width-container">
        <a class="gem-c-layout-super-navigation-header__header-logo" href="/">{CROWN}</a>
        <nav aria-labelledby="super-navigation-menu-heading" class="gem-c-layout-super-navigation-header__content">
          <h2 id="super-navigation-menu-heading" class="govuk-visually-hidden">Navigation menu</h2>
          <ul class="gem-c-layout-super-navigation-header__navigation-items">
            <li class="gem-c-layout-super-navigation-header__navigation-item"><a class="gem-c-layout-super-navigation-header__navigation-item-link" href="/browse">Topics</a></li>
            <li class="gem-c-layout-super-navigation-header__navigation-item"><a class="gem-c-layout-super-navigation-header__navigation-item-link" href="/government/organisations">Government activity</a></li>
          </ul>
          <form class="gem-c-layout-super-navigation-header__search-form" action="/search/all" method="get" role="search">
            <label class="govuk-label" for="search-main">Search GOV.UK</label>
            <input class="gem-c-search__input" id="search-main" name="keywords" type="search">
            <button class="gem-c-search__submit" type="submit">Search</button>
          </form>
        </nav>
      </div>
    </div>
  </header>
  <div class="govuk-width-container">
    <div class="gem-c-contextual-breadcrumbs">
      <nav class="gem-c-breadcrumbs govuk-breadcrumbs" aria-label="Breadcrumb" data-module="ga4-link-tracker">
        <ol class="govuk-breadcrumbs__list">
{crumbs}
        </ol>
      </nav>
    </div>
    <main role="main" id="content" class="govuk-main-wrapper" lang="en">
      <span id="Top"></span>
      <div class="govuk-grid-row gem-print-columns-none">
        <div class="govuk-grid-column-two-thirds">
          <div class="gem-c-heading govuk-!-margin-bottom-8">
            <span class="govuk-caption-xl gem-c-heading__context">{esc(caption)}</span>
            <h1 class="gem-c-heading__text govuk-heading-xl">{esc(title)}</h1>
          </div>
        </div>
      </div>
      <div class="govuk-grid-row gem-print-columns-none">
        <div class="govuk-grid-column-two-thirds">
          <p class="gem-c-lead-paragraph">{esc(description)}</p>
        </div>
      </div>
      <div class="govuk-grid-row">
        <div class="metadata-wrapper gem-print-columns-none">
          <div class="govuk-grid-column-two-thirds metadata-column">
            <div class="gem-c-metadata" data-module="metadata">
              <dl class="gem-c-metadata__list">
                {metadata}
              </dl>
            </div>
          </div>
        </div>
      </div>
      <div class="govuk-grid-row gem-print-columns-none">
        <div class="govuk-grid-column-two-thirds">
          <div id="contents" class="gem-c-contents-list-with-body" data-module="contents-list-with-body">{contents_html}
            <div class="gem-c-print-link govuk-!-display-none-print govuk-!-margin-bottom-6">
              <button class="govuk-link govuk-body-s gem-c-print-link__button" data-module="print-link">Print this page</button>
            </div>
            <div class="{v.govspeak_class}" data-module="govspeak">
{body}
            </div>{dates}
            <div class="published-dates-button-group">
              <h2 class="govuk-visually-hidden">Get emails about this page and print this page</h2>
              <div class="gem-c-single-page-notification-button" data-module="single-page-notification-button">
                <form action="/email/subscriptions/single-page/new" method="POST">
                  <input type="hidden" name="base_path" value="{path}">
                  <button class="govuk-body-s gem-c-single-page-notification-button__submit" type="submit">Get emails about this page</button>
                </form>
              </div>
              <div class="gem-c-print-link govuk-!-display-none-print govuk-!-margin-bottom-8">
                <button class="govuk-link govuk-body-s gem-c-print-link__button" data-module="print-link">Print this page</button>
              </div>
            </div>
          </div>
        </div>
        <div class="govuk-grid-column-one-third">
          <div class="gem-c-contextual-sidebar">
            <div class="gem-c-related-navigation">
              <h2 id="related-nav-related_items" class="gem-c-related-navigation__main-heading">Related content</h2>
              <nav class="gem-c-related-navigation__nav-section" aria-labelledby="related-nav-related_items" data-module="ga4-link-tracker">
                <ul class="gem-c-related-navigation__link-list">
{related_html}
                </ul>
              </nav>
            </div>
          </div>
        </div>
      </div>
    </main>
    <div class="gem-c-feedback govuk-!-display-none-print" data-module="feedback">
      <div class="gem-c-feedback__prompt" tabindex="-1">
        <h2 class="gem-c-feedback__prompt-question">Is this page useful?</h2>
        <button class="govuk-button gem-c-feedback__prompt-link" data-track-category="yesNoFeedbackForm">Yes</button>
        <button class="govuk-button gem-c-feedback__prompt-link" data-track-category="yesNoFeedbackForm">No</button>
        <button class="govuk-button gem-c-feedback__prompt-link">Report a problem with this page</button>
      </div>
    </div>
  </div>
  <footer class="gem-c-layout-footer govuk-footer">
    <div class="govuk-width-container">
      <div class="govuk-footer__meta">
        <div class="govuk-footer__meta-item govuk-footer__meta-item--grow">
          <h2 class="govuk-visually-hidden">Support links</h2>
          <ul class="govuk-footer__inline-list">
            <li class="govuk-footer__inline-list-item"><a class="govuk-footer__link" href="/help">Help</a></li>
            <li class="govuk-footer__inline-list-item"><a class="govuk-footer__link" href="/help/privacy-notice">Privacy</a></li>
            <li class="govuk-footer__inline-list-item"><a class="govuk-footer__link" href="/help/cookies">Cookies</a></li>
            <li class="govuk-footer__inline-list-item"><a class="govuk-footer__link" href="/help/accessibility-statement">Accessibility statement</a></li>
            <li class="govuk-footer__inline-list-item"><a class="govuk-footer__link" href="/contact">Contact</a></li>
          </ul>
          <span class="govuk-footer__licence-description">All content is available under the <a class="govuk-footer__link" href="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/" rel="license">Open Government Licence v3.0</a>, except where otherwise stated</span>
        </div>
        <div class="govuk-footer__meta-item"><a class="govuk-footer__link govuk-footer__copyright-logo" href="https://www.nationalarchives.gov.uk/information-management/re-using-public-sector-information/uk-government-licensing-framework/crown-copyright/">© Crown copyright</a></div>
      </div>
    </div>
  </footer>
</body>
</html>
"""


def nhs_cookie_banner(v: Version) -> str:
    paras = "\n      ".join(f"<p>{esc(t)}</p>" for t in v.nhs_cookie_text)
    return f"""<div id="nhsuk-cookie-banner" data-nosnippet>
  <div class="nhsuk-cookie-banner" id="cookiebanner">
    <div class="nhsuk-width-container">
      <h2>Cookies on the NHS website</h2>
      {paras}
      <ul>
        <li><button class="nhsuk-button" id="nhsuk-cookie-banner__link_accept_analytics" href="#">Accept analytics cookies</button></li>
        <li><button class="nhsuk-button" id="nhsuk-cookie-banner__link_accept" href="#">Reject analytics cookies</button></li>
        <li><a id="nhsuk-cookie-banner__link" href="/our-policies/cookies-policy/">Choose your cookie settings</a></li>
      </ul>
    </div>
  </div>
  <div class="nhsuk-success-banner" id="nhsuk-cookie-confirmation-banner" style="display: none">
    <div class="nhsuk-width-container">
      <p id="nhsuk-success-banner__message">Change your cookie settings at any time using our <a href="/our-policies/cookies-policy/">cookie settings page</a>.</p>
    </div>
  </div>
</div>"""


def nhs_page(v: Version, path: str, crumb: tuple[str, str]) -> str:
    body = NHS_BODY.replace("@@APOS@@", v.apostrophe).replace("@@DASH@@", v.dash)
    contents = "\n".join(
        f'      <li class="nhsuk-contents-list__item"><a class="nhsuk-contents-list__link" href="#{hid}">'
        f"{esc(text)}</a></li>"
        for hid, text in re.findall(r'<h2 id="([^"]+)">(.*?)</h2>', body)
    )
    h1, rest = body.split("\n", 1)
    last, due = v.reviewed
    return f"""<!-- {NOTE}
     Hand-assembled in nhsuk-frontend markup (see /work/shared/fixtures/nhsuk-html); the text is written for
     guidewatch and is not NHS health information. Generated by guidewatch/demo_data/_generate.py ({v.name}). -->
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>{NHS_TITLE} - NHS</title>
    <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
    <meta name="theme-color" content="#005eb8">
    <link rel="canonical" href="https://www.nhs.uk{path}">
    <link rel="icon" href="/assets/images/favicon.ico" sizes="48x48">
  </head>
  <body>
    <script>document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' nhsuk-frontend-supported' : '');</script>
{nhs_cookie_banner(v)}
    <a class="nhsuk-skip-link" data-module="nhsuk-skip-link" href="#maincontent">Skip to main content</a>
    <header class="nhsuk-header" data-module="nhsuk-header" role="banner">
      <div class="nhsuk-header__container nhsuk-width-container">
        <div class="nhsuk-header__service">
          <a class="nhsuk-header__service-logo" href="https://www.nhs.uk/" aria-label="NHS homepage">
            <svg class="nhsuk-header__logo" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 80" height="40" width="100" focusable="false" role="img" aria-label="NHS"><title>NHS</title><path fill="currentcolor" d="M200 0v80H0V0h200Z"/></svg>
          </a>
        </div>
        <search class="nhsuk-header__search">
          <form class="nhsuk-header__search-form" id="search" action="https://www.nhs.uk/search/" method="get" novalidate>
            <label class="nhsuk-label nhsuk-u-visually-hidden" for="search-field">Search the NHS website</label>
            <input class="nhsuk-input" id="search-field" name="q" type="search" autocomplete="off" placeholder="Search">
            <button class="nhsuk-button nhsuk-button--icon nhsuk-button--small" type="submit" aria-label="Search">Search</button>
          </form>
        </search>
      </div>
      <nav class="nhsuk-header__navigation" aria-label="Menu">
        <div class="nhsuk-header__navigation-container nhsuk-width-container">
          <ul class="nhsuk-header__navigation-list">
            <li class="nhsuk-header__navigation-item"><a class="nhsuk-header__navigation-link" href="https://www.nhs.uk/health-a-to-z/">Health A to Z</a></li>
            <li class="nhsuk-header__navigation-item"><a class="nhsuk-header__navigation-link" href="https://www.nhs.uk/live-well/">Live Well</a></li>
            <li class="nhsuk-header__navigation-item"><a class="nhsuk-header__navigation-link" href="https://www.nhs.uk/mental-health/">Mental health</a></li>
            <li class="nhsuk-header__navigation-item"><a class="nhsuk-header__navigation-link" href="https://www.nhs.uk/tests-and-treatments/">Tests and treatments</a></li>
            <li class="nhsuk-header__navigation-item"><a class="nhsuk-header__navigation-link" href="https://www.nhs.uk/nhs-services/">NHS services</a></li>
          </ul>
        </div>
      </nav>
    </header>
    <div class="nhsuk-width-container">
      <nav class="nhsuk-breadcrumb" aria-label="Breadcrumb">
        <ol class="nhsuk-breadcrumb__list">
          <li class="nhsuk-breadcrumb__list-item"><a class="nhsuk-breadcrumb__link" href="https://www.nhs.uk/">Home</a></li>
          <li class="nhsuk-breadcrumb__list-item"><a class="nhsuk-breadcrumb__link" href="https://www.nhs.uk{crumb[1]}">{crumb[0]}</a></li>
        </ol>
        <a class="nhsuk-back-link" href="https://www.nhs.uk{crumb[1]}"><span class="nhsuk-u-visually-hidden">Back to </span>{crumb[0]}</a>
      </nav>
      <main class="nhsuk-main-wrapper" id="maincontent">
        <div class="nhsuk-grid-row">
          <div class="nhsuk-grid-column-two-thirds">
{h1}
<nav class="nhsuk-contents-list" role="navigation" aria-label="Contents">
  <h2 class="nhsuk-u-visually-hidden">Contents</h2>
  <ol class="nhsuk-contents-list__list">
{contents}
  </ol>
</nav>
{rest}
            <p class="nhsuk-body-s {v.review_class} nhsuk-u-margin-top-7 nhsuk-u-margin-bottom-0">
              Page last reviewed: {last}<br>
              Next review due: {due}
            </p>
          </div>
        </div>
      </main>
    </div>
    <footer class="nhsuk-footer" role="contentinfo">
      <div class="nhsuk-width-container">
        <div class="nhsuk-footer__meta">
          <h2 class="nhsuk-u-visually-hidden">Support links</h2>
          <ul class="nhsuk-footer__list">
            <li class="nhsuk-footer__list-item"><a class="nhsuk-footer__list-item-link" href="https://www.nhs.uk/about-us/">About us</a></li>
            <li class="nhsuk-footer__list-item"><a class="nhsuk-footer__list-item-link" href="https://www.nhs.uk/contact-us/">Give us feedback</a></li>
            <li class="nhsuk-footer__list-item"><a class="nhsuk-footer__list-item-link" href="https://www.nhs.uk/accessibility-statement/">Accessibility statement</a></li>
            <li class="nhsuk-footer__list-item"><a class="nhsuk-footer__list-item-link" href="https://www.nhs.uk/our-policies/">Our policies</a></li>
            <li class="nhsuk-footer__list-item"><a class="nhsuk-footer__list-item-link" href="https://www.nhs.uk/our-policies/cookies-policy/">Cookies</a></li>
          </ul>
          <p class="nhsuk-body-s">© NHS England</p>
        </div>
      </div>
    </footer>
  </body>
</html>
"""


# --- Content API items ----------------------------------------------------------------------


def headers(body: str) -> list[dict[str, object]]:
    """details.headers: h2s with their h3s nested, as the publishing API builds them."""
    out: list[dict[str, object]] = []
    for level, hid, text in re.findall(r'<h([23]) id="([^"]+)">(.*?)</h\1>', body):
        item: dict[str, object] = {"text": re.sub(r"<[^>]+>", "", text), "level": int(level), "id": hid}
        if level == "3" and out:
            out[-1].setdefault("headers", []).append(item)  # type: ignore[union-attr]
        else:
            out.append(item)
    return out


def api_item(
    *,
    path: str,
    title: str,
    description: str,
    body: str,
    schema: str,
    content_id: str,
    first: str | None,
    updated: str,
    history: list[tuple[str, str, str]],
    extra_details: dict[str, object] | None = None,
) -> dict[str, object]:
    details: dict[str, object] = {"body": body, "headers": headers(body), "political": False}
    if history:
        details["change_history"] = [{"public_timestamp": s, "note": n} for s, _, n in history]
    details.update(extra_details or {})
    item: dict[str, object] = {
        "_guidewatch_note": f"{NOTE} Shaped like a GOV.UK Content API item (content-store).",
        "analytics_identifier": None,
        "base_path": path,
        "content_id": content_id,
        "document_type": schema,
        "schema_name": schema,
        "locale": "en",
        "phase": "live",
        "publishing_app": "whitehall",
        "rendering_app": "frontend",
        "title": title,
        "description": description,
        "public_updated_at": updated,
        "updated_at": updated,
        "withdrawn_notice": {},
        "details": details,
        "links": {
            "organisations": [
                {
                    "content_id": "240f72bd-9a4d-4f39-94d9-77235cadde8e",
                    "title": MHRA,
                    "base_path": MHRA_PATH,
                    "api_path": f"/api/content{MHRA_PATH}",
                    "web_url": f"https://www.gov.uk{MHRA_PATH}",
                    "document_type": "organisation",
                    "locale": "en",
                }
            ],
        },
    }
    if first:
        item["first_published_at"] = first
    return item


# --- writing --------------------------------------------------------------------------------


def write(rel: str, text: str) -> None:
    path = SITE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_json(rel: str, data: object) -> None:
    write(rel, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def build_version(v: Version) -> None:
    atmp_body = ATMP_BODY.replace("@@COMBINED@@", COMBINED_V1 if v is V1 else COMBINED_V2).replace(
        "@@HE_NOTIFY@@", HE_NOTIFY_V1 if v is V1 else HE_NOTIFY_V2
    )
    history = ATMP_HISTORY_V1 if v is V1 else ATMP_HISTORY_V2
    related = [
        ("MHRA Innovation Office", IO_PATH),
        (
            "Clinical trials for medicines: apply for authorisation in the UK",
            "/guidance/clinical-trials-for-medicines-apply-for-authorisation-in-the-uk",
        ),
        (
            "Medicines: apply for a manufacturer or wholesaler of medicines licence",
            "/guidance/medicines-apply-for-manufacturer-or-wholesaler-of-medicines-licences",
        ),
    ]
    if v is V2:
        related.reverse()  # chrome only
    host = "www.gov.uk"
    write(
        f"{v.name}/{host}{ATMP_PATH}/index.html",
        govuk_page(
            v,
            title=ATMP_TITLE,
            caption="Guidance",
            description=ATMP_DESCRIPTION,
            body=atmp_body,
            path=ATMP_PATH,
            breadcrumbs=[
                ("Home", "/"),
                ("Health and social care", "/health-and-social-care"),
                ("Medicines, medical devices", "/health-and-social-care/medicines-medical-devices-blood"),
            ],
            published="31 December 2020",
            updated=history[0][1],
            history=history,
            contents=True,
            related=related,
        ),
    )
    write_json(
        f"{v.name}/{host}/api/content{ATMP_PATH}.json",
        api_item(
            path=ATMP_PATH,
            title=ATMP_TITLE,
            description=ATMP_DESCRIPTION,
            body=atmp_body,
            schema="detailed_guide",
            content_id="5f3e2a1c-0b7d-4c39-9d6e-2a8f1c4b7e10",
            first="2020-12-31T23:00:00.000+00:00",
            updated=history[0][0],
            history=history,
            extra_details={"first_public_at": "2020-12-31T23:00:00.000+00:00"},
        ),
    )
    write(
        f"{v.name}/{host}{IO_PATH}/index.html",
        govuk_page(
            v,
            title=IO_TITLE,
            caption="Group",
            description=IO_DESCRIPTION,
            body=IO_BODY,
            path=IO_PATH,
            breadcrumbs=[("Home", "/"), ("Organisations", "/government/organisations"), (MHRA, MHRA_PATH)],
            published=None,
            updated=None,
            history=[],
            contents=False,
            related=[(ATMP_TITLE, ATMP_PATH)],
        ),
    )
    write_json(
        f"{v.name}/{host}/api/content{IO_PATH}.json",
        api_item(
            path=IO_PATH,
            title=IO_TITLE,
            description=IO_DESCRIPTION,
            body=IO_BODY,
            schema="working_group",
            content_id="c1d0e7a4-3f6b-4b8e-8a52-6e9d0f2b3a71",
            first=None,
            updated="2024-09-09T11:00:00.000+01:00",
            history=[],
            extra_details={"email": "innovationoffice@mhra.gov.uk"},
        ),
    )
    nhs_path = NHS_OLD if v is V1 else NHS_NEW
    crumb = (
        ("Health A to Z", "/health-a-to-z/")
        if v is V1
        else ("Tests and treatments", "/tests-and-treatments/")
    )
    write(f"{v.name}/www.nhs.uk{nhs_path}index.html", nhs_page(v, nhs_path, crumb))


def main() -> None:
    for name in ("v1", "v2"):
        if (SITE / name).exists():
            shutil.rmtree(SITE / name)
    build_version(V1)
    build_version(V2)
    write_json("v2/redirects.json", {NHS_OLD: NHS_NEW})


if __name__ == "__main__":
    main()
